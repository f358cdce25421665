"""Kindred settings.

Everything comes from the environment with embedded defaults, so a fresh clone runs on
SQLite and the in-memory channel layer, and production switches to PostgreSQL and Redis
by setting DATABASE_URL and REDIS_URL. See `.env.example` for the production values.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_str(name: str, default: str) -> str:
    """Empty counts as unset: compose passes missing optional values as ""."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or default


def websocket_sources(hosts: list[str], *, secure: bool) -> list[str]:
    """CSP sources for the chat socket on each allowed host: wss:// on the standard port
    behind HTTPS; ws:// and wss:// on any port otherwise (development on :8000)."""
    sources = []
    for host in hosts:
        if host == "*" or not host or ":" in host or "[" in host:
            continue  # "*" allows any host; CSP can't name IPv6 literals
        name = f"*{host}" if host.startswith(".") else host
        sources += [f"wss://{name}"] if secure else [f"ws://{name}:*", f"wss://{name}:*"]
    return sources


# pytest sets PYTEST_VERSION before anything is imported; tests run with debug off
# (as production does) but must not need a secret or an HTTPS front end.
TESTING = "PYTEST_VERSION" in os.environ

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "kindred-dev-only-" + "x" * 40  # noqa: S105 - never used with DEBUG off
    else:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (see .env.example)."
        )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.usersessions",
    "community",
    "forums",
    "moderation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # allauth's session tracking, written at most every few minutes (not every request).
    "community.session_activity.UserSessionActivityMiddleware",
    "community.middleware.NoIndexMiddleware",
    # no-store for signed-in people and inside groups; logs refusals, renders 429.
    "community.security_middleware.PrivatePagesMiddleware",
    "community.security_middleware.RefusalMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
                "community.context_processors.kindred",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# Channels runs ORM work on one long-lived thread per process, so keeping its connection
# open saves a connect (and, on SQLite, the PRAGMAs) on every WebSocket database call.
CONN_MAX_AGE = int(env_str("DJANGO_CONN_MAX_AGE", "0" if TESTING else "60"))
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=CONN_MAX_AGE, conn_health_checks=True
        )
    }
else:
    # SQLite serialises writers; IMMEDIATE transactions and a timeout turn concurrent chat
    # writes into short waits instead of "database is locked" errors.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "kindred.sqlite3",
            "CONN_MAX_AGE": CONN_MAX_AGE,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not memory: async consumer tests and the browser tests' daphne share it.
            "TEST": {"NAME": str(VAR_DIR / f"test-kindred-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and channel layer ---------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Each test run gets its own key prefix so runs never see each other's rate limits.
CACHE_PREFIX = os.environ.get(
    "KINDRED_CACHE_PREFIX", f"test{secrets.token_hex(4)}" if TESTING else "kindred"
)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_PREFIX,
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, the same as
                # channels-redis's blocking BZPOPMIN: every idle socket's receive then
                # failed with TimeoutError and was closed with 1011 (channels_redis#422).
                # Reads wait longer than the pop; connecting to a Redis that is down
                # fails fast, so a new chat socket is told 4503 (try again) at once.
                "hosts": [{"address": REDIS_URL, "max_connections": 1000,
                           "socket_timeout": 15, "socket_connect_timeout": 2}],
                "prefix": f"{CACHE_PREFIX}:asgi",
                "capacity": 1000,
                "expiry": 30,
                "group_expiry": 3600,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "kindred",
            "KEY_PREFIX": CACHE_PREFIX,
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "community.layers.SweepingInMemoryChannelLayer"}}

# --- Accounts -------------------------------------------------------------------------
AUTH_USER_MODEL = "community.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "groups:list"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "community.forms.SignupForm"
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PASSWORD_INPUT_RENDER_VALUE = False
ACCOUNT_ADAPTER = "community.adapters.AccountAdapter"
# Ending a session (sessions page, logout, password change) also closes its sockets.
USERSESSIONS_ADAPTER = "community.adapters.UserSessionsAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Kindred] "
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "change_password": "5/m/user",
}
USERSESSIONS_TRACK_ACTIVITY = True  # recorded by community.session_activity, throttled:
KINDRED_SESSION_TRACK_SECONDS = 300  # "last seen" is kept to within five minutes
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30

# --- Email ----------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Kindred <no-reply@kindred.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(env_str("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_FILE_PATH = env_str("KINDRED_EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_BACKEND = env_str(
    "KINDRED_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)

# --- Security -------------------------------------------------------------------------
# The key for members' pseudonyms in the security and audit logs; set it apart from the
# secret key so that rotating that does not change every pseudonym (security_log.py).
KINDRED_PSEUDONYM_KEY = os.environ.get("KINDRED_PSEUDONYM_KEY", "")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", not DEBUG and not TESTING)
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(env_str("DJANGO_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = SECURE_SSL_REDIRECT
CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        # 'self' covers the chat socket in CSP Level 3 browsers; Safari and older ones
        # need the ws:/wss: address spelled out (one per allowed host).
        "connect-src": ["'self'", *websocket_sources(ALLOWED_HOSTS, secure=SECURE_SSL_REDIRECT)],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the source folders too, so tests and a fresh daphne need no
# collectstatic step; production collects at image build time.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# --- Kindred --------------------------------------------------------------------------
KINDRED_REGION = env_str("KINDRED_REGION", "GB").upper()
# The address people use to reach the site, for links in emails (no request there).
KINDRED_SITE_URL = env_str("KINDRED_SITE_URL", "").rstrip("/")
# The port `make run` serves on, for email links when only a loopback host is allowed.
KINDRED_LOCAL_PORT = env_str("PORT", "8000")
KINDRED_GROUPS_NEED_APPROVAL = env_bool("KINDRED_GROUPS_NEED_APPROVAL", not DEBUG)
KINDRED_MAX_JOIN_QUESTIONS = 5
KINDRED_JOIN_ANSWER_MAX_LENGTH = 1000
KINDRED_EDIT_WINDOW_MINUTES = 60
KINDRED_URGENT_ESCALATE_MINUTES = int(env_str("KINDRED_URGENT_ESCALATE_MINUTES", "15"))
KINDRED_CLAIM_EXPIRE_MINUTES = 30
KINDRED_HIDE_AFTER_FLAGGERS = 3
# Abuse controls (community/abuse.py), per person, counted in the shared cache (Redis in
# production). "<count>/<period>", period in s, m, h or d ("20/10m" = 20 per ten
# minutes); several rates, comma-separated, all apply; "" switches one off. "<scope>_new"
# replaces "<scope>" for accounts younger than KINDRED_NEW_ACCOUNT_HOURS. Fixed windows:
# a day is a calendar day (UTC). Set so that heavy, honest use never meets them.
KINDRED_RATE_LIMITS = {
    "chat": "10/10s",  # chat messages, per member per group
    "chat_new": "5/10s,120/h",
    "post": "20/10m",  # forum replies, per member
    "post_new": "6/10m,30/d",
    "thread": "10/h",  # new forum threads, per member
    "thread_new": "3/h,6/d",
    "join": "10/h",  # joining or asking to join groups
    "flag": "20/h",  # flags on posts, messages and profiles
    "invite": "30/d",  # invite links made
}
KINDRED_NEW_ACCOUNT_HOURS = 24
# A new account's first few posts and chat messages (together) may not carry links.
KINDRED_NEW_ACCOUNT_LINK_FREE_POSTS = 3
# Chat sockets' database work in parallel threads: PostgreSQL only (SQLite has one writer).
KINDRED_CHAT_DB_PARALLEL = DATABASES["default"]["ENGINE"].endswith("postgresql")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}
