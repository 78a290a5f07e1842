import re

from django.test import Client

from alerts import dispatch
from alerts.models import TRADER_KINDS
from alerts.services import preferences_save


def prefer(user, *kinds, in_app=False, email=False, endpoints=()) -> None:
    """As the Alerts page saves a choice: these kinds go to these channels, every other kind
    nowhere (the defaults a user starts with are replaced)."""
    chosen = {"in_app": in_app, "email": email, "endpoints": [e.pk for e in endpoints]}
    off = {"in_app": False, "email": False, "endpoints": []}
    preferences_save(owner=user, choices={kind: chosen if kind in kinds else off for kind in TRADER_KINDS})


def add_endpoint(user, url: str, style: str = "generic"):
    """Through the page, as a trader does; returns (endpoint, the secret shown once)."""
    from alerts.models import Endpoint

    client = Client()
    client.force_login(user)
    response = client.post("/alerts/endpoints", {"name": "my hook", "url": url, "style": style})
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get("/alerts").content.decode()
    secret = re.search(r'id="endpoint-secret" value="([^"]+)"', page)[1]
    return Endpoint.objects.owned_by(user).latest("pk"), secret


def run_dispatch(capture) -> int:
    """The minute schedule's dispatch and service checks, with what they commit (the
    deliveries' tasks) run at once."""
    with capture(execute=True):
        return dispatch.dispatch() + dispatch.service_checks()
