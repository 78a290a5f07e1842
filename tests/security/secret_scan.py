"""The suite-wide secret scan (a pytest plugin; tests/conftest.py loads it).

While the whole suite runs, it learns every secret the tests use: each value encrypted with
the project's keys (MT5 passwords, webhook tokens and copy-pair keys are stored encrypted),
each API key knox issues, each Fernet key and the legacy WEBHOOK_TOKEN. It reads every log
line the project's formatter writes and every response Django serves in this process (pages,
admin pages, error pages, API output), and records each secret it finds there. At the end
of the session any finding is listed and the run fails, so `make test` and `.ci/run` fail.

A trader's own webhook URL, copy-pair key and new API key are shown to them by design on
the routes in REVEALED_ON; nowhere else, never in an error response or the admin, and never
in a log. MT5 passwords and encryption keys are shown nowhere.

Not covered: output of child processes (daphne, qcluster and host agents started by tests
log through the same formatter, whose redaction tests/mt5saas/test_logs.py checks) and
streamed responses (SSE), which carry events only.
"""

import html
import logging
from dataclasses import dataclass, field

import pytest

MIN_SECRET_LENGTH = 8
MT5_PASSWORD = "MT5 password"
WEBHOOK_TOKEN = "webhook token"
COPY_KEY = "copy-pair API key"
API_KEY = "API key"
ENCRYPTION_KEY = "encryption key"
LEGACY_TOKEN = "legacy WEBHOOK_TOKEN"
SIGNING_SECRET = "outbound webhook signing secret"

# URL names whose answer shows the signed-in trader one of their own secrets, on purpose.
REVEALED_ON = {
    WEBHOOK_TOKEN: {"dashboard", "settings-page", "auth-webhook-token", "auth-rotate-token", "settings-rotate-webhook"},
    COPY_KEY: {"copy-pair-list", "copy-pair-key", "copy-pair-rotate-key", "copy-page", "copy-pair-action"},
    API_KEY: {"settings-page"},
    # Shown once after the endpoint is added or its secret rotated (tests/alerts/test_page.py).
    SIGNING_SECRET: {"alerts-page"},
}


@dataclass
class Finding:
    test: str
    where: str
    kind: str
    hint: str


@dataclass
class SecretScan:
    test: str = "(outside any test)"
    # Keys stay known for the whole session; other secrets for the test that made them
    # (its database rows are gone after it).
    lasting: dict[str, str] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    responses: int = 0
    log_lines: int = 0

    def learn(self, secret: str | bytes, kind: str, *, lasting: bool = False) -> None:
        if isinstance(secret, bytes):
            secret = secret.decode("utf-8", "replace")
        if len(secret) >= MIN_SECRET_LENGTH:
            (self.lasting if lasting else self.current)[secret] = kind

    def check(self, text: str, where: str, allowed: frozenset[str] = frozenset()) -> None:
        for secret, kind in [*self.lasting.items(), *self.current.items()]:
            if kind in allowed:
                continue
            if secret in text or html.escape(secret) in text:
                self.findings.append(Finding(self.test, where, kind, secret[:4] + "…"))

    def take_findings(self) -> list[Finding]:
        """Hand over (and forget) what was found in the running test: for tests of the scan
        itself. Other tests' findings stay for the session's report."""
        mine = [f for f in self.findings if f.test == self.test]
        self.findings = [f for f in self.findings if f.test != self.test]
        return mine


scan = SecretScan()


def _secret_kind(plaintext: str) -> str:
    if plaintext.startswith("whk_"):
        return WEBHOOK_TOKEN
    if plaintext.startswith("cpk_"):
        return COPY_KEY
    if plaintext.startswith("whsec_"):
        return SIGNING_SECRET
    return MT5_PASSWORD


def _install() -> None:
    from cryptography.fernet import Fernet, MultiFernet
    from django.conf import settings
    from django.core.handlers.base import BaseHandler
    from knox.models import AuthTokenManager

    from mt5saas.logging import RedactingFormatter

    fernet_init, multi_encrypt = Fernet.__init__, MultiFernet.encrypt

    def fernet_init_learning(self, key, *args, **kwargs):
        scan.learn(key, ENCRYPTION_KEY, lasting=True)
        fernet_init(self, key, *args, **kwargs)

    def encrypt_learning(self, msg: bytes) -> bytes:
        scan.learn(msg, _secret_kind(msg.decode("utf-8", "replace")))
        return multi_encrypt(self, msg)

    token_create = AuthTokenManager.create

    def token_create_learning(self, *args, **kwargs):
        instance, token = token_create(self, *args, **kwargs)
        scan.learn(token, API_KEY)
        return instance, token

    def seen(request, response) -> None:
        if settings.WEBHOOK_TOKEN:
            scan.learn(settings.WEBHOOK_TOKEN, LEGACY_TOKEN)
        if getattr(response, "streaming", False):
            return
        scan.responses += 1
        match = getattr(request, "resolver_match", None)
        name = match.url_name if match else None
        shown_to_owner = response.status_code < 400 and not request.path.startswith("/admin/")
        allowed = frozenset(k for k, names in REVEALED_ON.items() if shown_to_owner and name in names)
        text = f"{response.headers}\n{response.content.decode('utf-8', 'replace')}"
        scan.check(text, f"{request.method} {request.path} → {response.status_code}", allowed)

    get_response, get_response_async = BaseHandler.get_response, BaseHandler.get_response_async

    def get_response_scanned(self, request):
        response = get_response(self, request)
        seen(request, response)
        return response

    async def get_response_async_scanned(self, request):
        response = await get_response_async(self, request)
        seen(request, response)
        return response

    format_record = RedactingFormatter.format

    def format_scanned(self, record: logging.LogRecord) -> str:
        line = format_record(self, record)
        scan.log_lines += 1
        scan.check(line, f"log line of {record.name}")
        return line

    from accounts import services as account_services

    token_adopt = account_services.webhook_token_adopt

    def token_adopt_learning(*, user, token: str) -> bool:
        # An adopted legacy token has no whk_ prefix: without this it reads as an MT5 password.
        adopted = token_adopt(user=user, token=token)
        scan.learn(token, WEBHOOK_TOKEN)
        return adopted

    account_services.webhook_token_adopt = token_adopt_learning
    Fernet.__init__ = fernet_init_learning
    MultiFernet.encrypt = encrypt_learning
    AuthTokenManager.create = token_create_learning
    BaseHandler.get_response = get_response_scanned
    BaseHandler.get_response_async = get_response_async_scanned
    RedactingFormatter.format = format_scanned
    for key in settings.FIELD_ENCRYPTION_KEYS:
        scan.learn(key.strip(), ENCRYPTION_KEY, lasting=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    _install()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    scan.test = item.nodeid
    scan.current = {}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if scan.findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_sep(
        "-" if not scan.findings else "!",
        f"secret scan: {scan.responses} responses and {scan.log_lines} log lines checked, "
        f"{len(scan.findings)} secret(s) found",
        red=bool(scan.findings),
    )
    for finding in scan.findings[:50]:
        terminalreporter.write_line(f"{finding.kind} {finding.hint} in {finding.where} ({finding.test})", red=True)


@pytest.fixture
def secret_scan() -> SecretScan:
    return scan
