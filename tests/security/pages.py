"""What a page may contain under the project's Content Security Policy."""

from html.parser import HTMLParser

# Data blocks are never executed, so the policy allows them inline.
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster"}


class PolicyViolations(HTMLParser):
    """Collects what `script-src 'self'; style-src 'self'` would block, or that would run
    script anyway: inline scripts and styles, on* handlers, javascript: URLs, and scripts or
    stylesheets from another origin."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.violations: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on"):
                self.violations.append(f"<{tag} {name}=…> event handler")
            if name == "style":
                self.violations.append(f"<{tag} style=…> inline style")
            if name in URL_ATTRIBUTES and value.strip().lower().startswith(("javascript:", "vbscript:")):
                self.violations.append(f"<{tag} {name}={value[:40]!r}> script URL")
        if tag == "script":
            src = values.get("src", "")
            if not src and values.get("type", "").lower() not in DATA_SCRIPT_TYPES:
                self._inline_script = True
            if (src and not src.startswith("/")) or src.startswith("//"):
                self.violations.append(f"<script src={src!r}> from another origin")
        if tag == "style":
            self.violations.append("<style> element")
        if tag == "link" and "stylesheet" in values.get("rel", "") and not values.get("href", "").startswith("/"):
            self.violations.append(f"<link rel=stylesheet href={values.get('href')!r}> from another origin")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inline_script = False

    def handle_data(self, data: str) -> None:
        if self._inline_script and data.strip():
            self.violations.append(f"inline <script>: {data.strip()[:60]!r}")
            self._inline_script = False


def policy_violations(html: str) -> list[str]:
    parser = PolicyViolations()
    parser.feed(html)
    parser.close()
    return parser.violations


class PostForms(HTMLParser):
    """The action of each POST form, and whether it carries Django's CSRF token."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._current: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and values.get("method", "get").lower() == "post":
            self._current = {"action": values.get("action", ""), "csrf": False}
            self.forms.append(self._current)
        if tag == "input" and self._current is not None and values.get("name") == "csrfmiddlewaretoken":
            self._current["csrf"] = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def post_forms(html: str) -> list[dict]:
    parser = PostForms()
    parser.feed(html)
    parser.close()
    return parser.forms
