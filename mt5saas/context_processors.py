from django.http import HttpRequest

NAVIGATION = [
    ("dashboard", "Dashboard", "/"),
    ("accounts", "Accounts", "/accounts"),
    ("copy", "Copy trading", "/copy"),
    ("history", "History", "/history"),
    ("journal", "Journal", "/journal"),
    ("alerts", "Alerts", "/alerts"),
    ("settings", "Settings", "/settings"),
]


def navigation(request: HttpRequest) -> dict:
    path = request.path.rstrip("/") or "/"
    current = next((key for key, _, url in NAVIGATION if url != "/" and path.startswith(url)), "dashboard")
    return {"navigation": NAVIGATION, "nav_current": current}
