"""One settings module for every environment; the README's Environment table lists the variables.

Unset variables fall back to the embedded defaults (SQLite, in-memory channel
layer, ORM broker, local-memory cache, console email) so a fresh clone runs
with nothing else installed.
"""

import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.management.utils import get_random_secret_key

from mt5saas import backing_services
from mt5saas import env as readers

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

# The project folder's .env first, as the single-user bot read it: the environment wins.
readers.read_env_file(BASE_DIR / ".env")
readers.refuse_basic_auth()
env = environ.Env()


def env_bool(name: str, default: bool) -> bool:
    value = env.str(name, default="1" if default else "0")
    if value not in {"0", "1"}:
        raise SystemExit(f"mt5saas: {name} must be 0 or 1, not {value!r}")
    return value == "1"


def local_secret(name: str, make: Callable[[], str]) -> str:
    """A secret generated once into var/ so a local trial keeps its sessions and data."""
    path = VAR_DIR / name.lower()
    try:
        # Created 0600 in one step: never readable by others, not even for a moment.
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(make())
    return path.read_text().strip()


# `manage.py createsuperuser`, `demo`, `shell`… with DEBUG unset, on a machine where a local
# trial (`make run`) generated its keys into var/: they run on those keys, no DEBUG=1 needed.
# Never with DEBUG=0 given (production says so) nor for a process that serves (daphne, a
# qcluster, a host agent): those refuse to start without their keys.
SERVING_COMMANDS = frozenset({"qcluster", "host_agent", "runserver", "runworker"})
LOCAL_COMMAND = (
    "DEBUG" not in os.environ
    and Path(sys.argv[0]).name == "manage.py"
    and len(sys.argv) > 1
    and sys.argv[1] not in SERVING_COMMANDS
)


def required_secret(name: str, make: Callable[[], str]) -> str:
    if value := env.str(name, default=""):
        return value
    if DEBUG:
        return local_secret(name, make)
    if LOCAL_COMMAND and (kept := VAR_DIR / name.lower()).exists():
        return kept.read_text().strip()
    # One line, naming the variable: production must never run on a local key.
    hint = " (or DEBUG=1 for a local trial)" if LOCAL_COMMAND else ""
    raise SystemExit(f"mt5saas: {name} must be set when DEBUG=0{hint}")


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = required_secret("SECRET_KEY", get_random_secret_key)
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Newest first: MultiFernet encrypts with the first and decrypts with any.
FIELD_ENCRYPTION_KEYS = required_secret("FIELD_ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode()).split(",")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=[f"https://{host}" for host in ALLOWED_HOSTS if host != "*"]
)
# The public address put into webhook URLs; the request's host when unset.
PUBLIC_URL = readers.public_url()
PASSWORD_LOGIN = env_bool("PASSWORD_LOGIN", DEBUG)
ADMIN_EMAIL = env.str("ADMIN_EMAIL", default="").strip().lower()
WEBHOOK_TOKEN = env.str("WEBHOOK_TOKEN", default="")
# The legacy token can be switched off without removing it from the environment.
WEBHOOK_TOKEN_ENABLED = env_bool("WEBHOOK_TOKEN_ENABLED", True)
WEBHOOK_RATE_LIMIT = readers.rate_limit("WEBHOOK_RATE_LIMIT", default="10/m")
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=16 * 1024)
API_RATE_LIMIT = readers.rate_limit("API_RATE_LIMIT", default="20/m")
# TradingView's published webhook senders, for tokens that accept only them.
TRADINGVIEW_IPS = env.list("TRADINGVIEW_IPS", default=["52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"])
# Reverse proxies whose X-Forwarded-For is believed (the client address is the last hop they saw).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Every rate limit keyed by address reads it as the webhooks do (django-ratelimit's key="ip" too).
RATELIMIT_IP_META_KEY = "mt5saas.net.client_ip"
# Windows hosts: the MT5 installation copied into each portable instance, and the profile
# template (charts, the EA, its inputs) laid over it.
MT5_INSTALL_DIR = env.str("MT5_INSTALL_DIR", default=r"C:\Program Files\MetaTrader 5")
MT5_PROFILE_SOURCE = env.str("MT5_PROFILE_SOURCE", default="")
# Where this host's portable instances go: the default of `register_host --instance-root`.
MT5_INSTANCE_ROOT = readers.aliased("MT5_INSTANCE_ROOT", "INSTANCE_ROOT_PATH")
# The paper broker's terms per trade server (terminals/paper/terms.py), e.g.
# {"SimBroker-Demo": {"commission_per_lot": "3.50", "stop_out_level": "50"}}; unset: no
# commission, stop-out at a 50 % margin level.
PAPER_SERVER_TERMS: dict[str, dict[str, str]] = {}

INSTALLED_APPS = [
    "daphne",
    "mt5saas.apps.OperatorAdminConfig",  # django.contrib.admin with the operators' site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.mfa",
    "django_htmx",
    "bootstrap",
    "mt5saas",
    "accounts",
    "terminals",
    "webhooks",
    "copytrading",
    "journal",
    "live",
    "legacy",
    "alerts",
    "audit",
    "axes",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "mt5saas.middleware.ServiceUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.ProviderNotConfiguredMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "audit.middleware.AuditContextMiddleware",
    "accounts.middleware.RecentSignInForAdminMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mt5saas.urls"
ASGI_APPLICATION = "mt5saas.asgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mt5saas.context_processors.navigation",
            ],
        },
    },
]

# --- Database, channel layer, cache, task broker -------------------------------------
DATABASES = backing_services.databases(env, sqlite_path=VAR_DIR / "db.sqlite3")
REDIS_URL = env.str("REDIS_URL", default="")
CHANNEL_LAYERS = backing_services.channel_layers(REDIS_URL)
CACHES = backing_services.caches(REDIS_URL)
Q_CLUSTER = backing_services.q_cluster(env, REDIS_URL)

# Seconds an EA bridge terminal gets to log in when an account is added (restart, log in, EA connected).
EA_LOGIN_TIMEOUT_S = env.float("EA_LOGIN_TIMEOUT_S", default=45.0)

# The folder of the drain lock files on SQLite (terminals/orders/locks.py), one per account;
# empty: beside the database file. An in-memory database has none unless this is set: its
# drains rely on the lease alone.
ORDER_DRAIN_LOCK_DIR = env.str("ORDER_DRAIN_LOCK_DIR", default="")

# Live events kept for catch-up (Last-Event-ID, ?since=): each user's newest N, none older than D days.
LIVE_EVENTS_KEEP = env.int("LIVE_EVENTS_KEEP", default=1000)
LIVE_EVENTS_DAYS = env.int("LIVE_EVENTS_DAYS", default=7)

# Trade journal: how far back an account's first deal read goes, how far each later read goes
# back before its cursor (brokers book deals late or stamp them in their own time zone), and the
# age in days past which equity points are deleted (0 keeps them: about 8,760 rows per account a year).
JOURNAL_HISTORY_DAYS = env.int("JOURNAL_HISTORY_DAYS", default=90)
JOURNAL_DEALS_OVERLAP_S = env.int("JOURNAL_DEALS_OVERLAP_S", default=2 * 3600)
JOURNAL_EQUITY_RETENTION_DAYS = env.int("JOURNAL_EQUITY_RETENTION_DAYS", default=365)
# A stream ends after this long and the client resumes from its last event id. daphne buffers
# whatever a client does not read; this bounds that buffer to one stream's worth of events.
LIVE_STREAM_MAX_S = env.float("LIVE_STREAM_MAX_S", default=600.0)
# An open stream checks again every this many seconds that what let it open (the API key, the
# session, the user's being active, staff rights for ?all=1) still holds, and ends if not.
LIVE_AUTH_RECHECK_S = env.float("LIVE_AUTH_RECHECK_S", default=5.0)
# Streams (SSE and WebSocket together) one user may have open at once; across processes with Redis.
LIVE_STREAMS_PER_USER = env.int("LIVE_STREAMS_PER_USER", default=20)
# A resumed stream also replays the caller's events created this long before its last event id: one
# committed late (lower id, later commit) is not skipped. Longer than any publishing transaction.
LIVE_RESUME_LOOKBACK_S = 30.0

# Alerts (docs/alerts.md). Operator emails (startup, host offline, error-rate spikes) go to ALERT_EMAIL.
ALERT_EMAIL = readers.alert_email()
# 0: no dispatcher wake-up after publishing (the minute schedule alone raises alerts).
ALERTS_KICK = env_bool("ALERTS_KICK", True)
# A wake-up waits this long for more events: at most one dispatch per process per period.
ALERTS_KICK_DELAY_S = 1.0
# The dispatcher's cursor moves only past rows older than this (transactions commit out of id order).
ALERTS_DISPATCH_GRACE_S = 60
ALERTS_COALESCE_S = env.int("ALERTS_COALESCE_S", default=600)
ALERTS_HOURLY_CAP = env.int("ALERTS_HOURLY_CAP", default=20)
ALERTS_MAX_ATTEMPTS = 5
ALERTS_RETRY_BASE_S = 60.0  # then 4 times longer each time, ±20 % jitter
ALERTS_RETRY_CAP_S = 2400.0
ALERTS_WEBHOOK_TIMEOUT_S = env.float("ALERTS_WEBHOOK_TIMEOUT_S", default=3.0)
# 1 lets outbound webhooks reach loopback and private addresses: for tests with a local receiver only.
ALERTS_WEBHOOK_ALLOW_PRIVATE = env_bool("ALERTS_WEBHOOK_ALLOW_PRIVATE", False)
# Operator alert when this share of at least this many finished orders failed within the window.
ALERTS_ERROR_WINDOW_MIN = 10
ALERTS_ERROR_MIN_ORDERS = 20
ALERTS_ERROR_RATE = 0.5

# --- Auth ------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: a locked-out username or address is refused before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_REDIRECT_URL = "/login"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_LOGIN_ON_GET = False  # POST only: a link on another site cannot start a sign-in.
SOCIALACCOUNT_STORE_TOKENS = False
# Google verifies addresses, so an operator created by hand is joined to their Google sign-in.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
GOOGLE_CLIENT_ID = env.str("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env.str("GOOGLE_CLIENT_SECRET", default="")
SOCIALACCOUNT_PROVIDERS = {
    "google": {
        "SCOPE": ["profile", "email"],
        "AUTH_PARAMS": {"access_type": "online"},
        "OAUTH_PKCE_ENABLED": True,
        "APPS": (
            [{"client_id": GOOGLE_CLIENT_ID, "secret": GOOGLE_CLIENT_SECRET, "key": ""}]
            if GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET
            else []
        ),
    }
}
# Password sign-in (operators, demo) locks out after AXES_FAILURE_LIMIT failures in a row,
# per username and, separately, per address; an operator unlocks in the admin (Access attempts).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "mt5saas.net.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_SENSITIVE_PARAMETERS = ["password", "csrfmiddlewaretoken"]
# Sessions are renewed on every sign-in (django.contrib.auth.login cycles the key) and end
# SESSION_HOURS after it; the admin asks staff to sign in again after ADMIN_REAUTH_MINUTES.
SESSION_COOKIE_AGE = env.int("SESSION_HOURS", default=12) * 3600
ADMIN_REAUTH_SECONDS = env.int("ADMIN_REAUTH_MINUTES", default=30) * 60
# Two-factor sign-in through allauth's own MFA (TOTP, recovery codes). Staff must have signed in with a
# second factor (or Google) for the admin, /api/admin/, the all-tenants stream (mt5saas.staff).
STAFF_MFA_REQUIRED = env_bool("STAFF_MFA_REQUIRED", not DEBUG)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "mt5saas"
# A wrong code counts in django-axes' lockout as a wrong password does (accounts.forms).
MFA_FORMS = {"authenticate": "accounts.forms.LockoutCountingAuthenticateForm"}
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mt5saas.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["mt5saas.authentication.ApiRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "mt5saas.api.Pagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "mt5saas.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mt5saas.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
REST_KNOX = {
    "TOKEN_TTL": None,  # script tokens live until revoked or replaced
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_PREFIX": "mt5_",  # makes a leaked key recognisable to secret scanners
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mt5saas API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "AccountKindEnum": "terminals.models.TradingAccount.Kind",
        "HostKindEnum": "terminals.models.TerminalHost.Kind",
        "AccountStatusEnum": "terminals.models.TradingAccount.Status",
        "SourceEnum": "terminals.models.Order.Source",
        "OrderStatusEnum": "terminals.models.Order.Status",
        "SignalStatusEnum": "webhooks.models.Signal.Status",
        "JournalSourceEnum": "journal.models.Source",
        "DealReasonEnum": "journal.models.Deal.Reason",
    },
}
# Each app adds a function returning its figures for /api/admin/stats.
ADMIN_STATS = ["accounts.selectors.admin_stats", "terminals.selectors.admin_stats"]
# Each app adds checks for /health: callables returning mt5saas.health.Check.
HEALTH_CHECKS = [
    "mt5saas.health.check_database",
    "mt5saas.health.check_cache",
    "mt5saas.health.check_queue",
    "mt5saas.health.check_channel_layer",
]

# --- Static files, email, i18n ---------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every start without it
# Front-end packages come from npm (package.json, `npm ci` in the Makefile), served from node_modules.
STATICFILES_DIRS = [BASE_DIR / "mt5saas" / "static", ("chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
vars().update(readers.email_settings())
DEFAULT_FROM_EMAIL = readers.default_from_email()
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Production hardening ----------------------------------------------------------
HTTPS = env_bool("HTTPS", not DEBUG)
# Trust X-Forwarded-Proto only behind a proxy that sets it; otherwise a client could claim HTTPS.
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^webhook/health$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Pages carry their own token (forms, htmx's hx-headers); no script reads the cookie.
CSRF_COOKIE_HTTPONLY = True
# No CORS middleware: no response carries Access-Control-Allow-Origin, so another site's
# scripts cannot read anything, and the API's session-authenticated writes need the CSRF token.
# Strict CSP: every script and style is a file of ours; no inline code, no other origin.
# form-action names Google because the sign-in form's POST is redirected there.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https://*.googleusercontent.com"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", "https://accounts.google.com"],
    }
}
CSRF_FAILURE_VIEW = "mt5saas.views.csrf_failure"
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Logging -----------------------------------------------------------------------
# Every handler redacts webhook tokens: they travel in URLs, which servers like to log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "redacted": {
            "()": "mt5saas.logging.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
    },
    "filters": {"without_enqueue_lines": {"()": "mt5saas.logging.WithoutEnqueueLines"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "redacted"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's own handlers are replaced so that nothing bypasses the redaction.
    "loggers": {
        **{
            name: {"handlers": ["console"], "level": "INFO", "propagate": False}
            for name in ("django", "django.server", "django.channels.server", "daphne")
        },
        "django-q": {"filters": ["without_enqueue_lines"]},
        # "AXES: BEGIN …" at every start of every process and management command; lockouts are warnings.
        "axes.apps": {"level": "WARNING"},
    },
}
