"""The one settings module. Everything that differs between machines comes from the environment.

Unset DATABASE_URL means a SQLite file (the embedded default); unset REDIS_URL means Celery tasks run
eagerly in-process. See .env.example for every variable.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from reviewapp.env import (
    SIGNUP_POLICIES,
    EnvError,
    env_bool,
    env_choice,
    env_email,
    env_email_url,
    env_hosts,
    env_int,
    env_list,
    env_path,
    env_rate,
    env_secret,
    env_str,
    env_url,
    is_placeholder,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"
# Test runs use DEBUG off like production, but need no secret of their own.
RUNNING_TESTS = "pytest" in sys.modules or sys.argv[1:2] == ["test"]


# PostgreSQL's JIT compiles a statement whose estimated cost passes jit_above_cost, as the kept
# counts' corrections (run by every page that shows a review's counts) do on a big database:
# 45-70 ms of compiling for a statement that runs in 10 ms (issue 13). The app's statements are short and
# index-driven, so JIT never pays for itself here.
POSTGRES_SESSION_OPTIONS = "-c jit=off"


def _database_from_env(*, production: bool) -> Mapping[str, Any]:
    """DATABASE_URL as CI and developers give it, or the POSTGRES_* pieces as docker-compose gives
    them. The pieces go into the settings as they are: a password with @ : / # needs no quoting,
    which in a URL it would."""
    database_url = env_url(
        "DATABASE_URL", None, schemes=("postgres", "postgresql", "postgis", "sqlite")
    )
    postgres_host = env_str("POSTGRES_HOST")
    if database_url is not None and postgres_host is not None:
        raise EnvError(
            "DATABASE_URL and POSTGRES_HOST are both set; give the database either as one URL or "
            "as POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DB, POSTGRES_USER and POSTGRES_PASSWORD."
        )
    if postgres_host is not None:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": postgres_host,
            "PORT": env_int("POSTGRES_PORT", 5432, minimum=1, maximum=65535),
            "NAME": env_str("POSTGRES_DB", "reviewapp"),
            "USER": env_str("POSTGRES_USER", "reviewapp"),
            "PASSWORD": env_secret(
                "POSTGRES_PASSWORD", "", refuse_placeholder=production, strip=False
            ),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {"options": POSTGRES_SESSION_OPTIONS},
        }
    if database_url is None:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(BASE_DIR / "db.sqlite3"),
            # Screening writes from several requests at once; wait for the lock rather than fail.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    try:
        database = dj_database_url.parse(database_url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise EnvError(f"DATABASE_URL cannot be used: {exc}") from None
    if database["ENGINE"].endswith("postgresql") and not database.get("NAME"):
        raise EnvError("DATABASE_URL names no database (add /<name> after the host).")
    if production and is_placeholder(str(database.get("PASSWORD") or "")):
        raise EnvError(
            "DATABASE_URL's password is still a placeholder (like the one in .env.example); "
            "set a real password."
        )
    if database["ENGINE"].endswith("postgresql"):
        options = database.setdefault("OPTIONS", {})
        # Settings given in the URL (?options=...) come last, so they win.
        options["options"] = " ".join(
            part for part in (POSTGRES_SESSION_OPTIONS, options.get("options", "")) if part
        )
    return database


def _settings_from_env() -> dict:
    debug = env_bool("DJANGO_DEBUG", False)
    secret_key = env_secret("DJANGO_SECRET_KEY", refuse_placeholder=not debug)
    if secret_key is None:
        if not debug and not RUNNING_TESTS:
            raise EnvError(
                "DJANGO_SECRET_KEY is not set. It is required when DJANGO_DEBUG is off; "
                "set DJANGO_DEBUG=1 for development or give a long random DJANGO_SECRET_KEY."
            )
        secret_key = DEV_SECRET_KEY
    elif len(secret_key) < 32 and not debug:
        raise EnvError("DJANGO_SECRET_KEY is shorter than 32 characters; use a long random value.")

    database = _database_from_env(production=not debug)

    return {
        "DEBUG": debug,
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": env_hosts(
            "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if debug else []
        ),
        "DATABASE": database,
        "REDIS_URL": env_url("REDIS_URL", None, schemes=("redis", "rediss")),
        "ENTREZ_EMAIL": env_email("ENTREZ_EMAIL", "reviewapp@example.org"),
        "ENTREZ_API_KEY": env_str("ENTREZ_API_KEY", ""),
        "ENTREZ_BASE_URL": env_url(
            "ENTREZ_BASE_URL",
            "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/",
            schemes=("http", "https"),
        ),
        # Open-access full texts (reviewapp/integrations/openaccess.py). Unpaywall asks every
        # caller for a contact email; without one the Unpaywall half of retrieval is off.
        "UNPAYWALL_EMAIL": env_email("UNPAYWALL_EMAIL", ""),
        "UNPAYWALL_BASE_URL": env_url(
            "UNPAYWALL_BASE_URL", "https://api.unpaywall.org/v2/", schemes=("http", "https")
        ),
        # Tests only: let PDF links point at the fakes on 127.0.0.1 (normally refused).
        "OPENACCESS_ALLOW_PRIVATE_HOSTS": env_bool("OPENACCESS_ALLOW_PRIVATE_HOSTS", False),
        # Lookups and downloads one retrieval has in flight, each waiting for its service's
        # limiter (1: one record at a time; the benchmark compares the two).
        "RETRIEVAL_FETCH_THREADS": env_int("RETRIEVAL_FETCH_THREADS", 8, minimum=1, maximum=32),
        "PMC_OA_BASE_URL": env_url(
            "PMC_OA_BASE_URL",
            "https://www.ncbi.nlm.nih.gov/pmc/utils/oa/oa.fcgi",
            schemes=("http", "https"),
        ),
        "MEDIA_ROOT": env_path("MEDIA_ROOT", str(BASE_DIR / "media")),
        "STATIC_ROOT": env_path("STATIC_ROOT", str(BASE_DIR / "staticfiles")),
        "SECURE_SSL_REDIRECT": env_bool("DJANGO_SECURE_SSL_REDIRECT", not debug),
        "SECURE_HSTS_SECONDS": env_int(
            "DJANGO_SECURE_HSTS_SECONDS", 0 if debug else 31536000, minimum=0
        ),
        # A 100,000-record PubMed XML export is about 900 MB; files stream to disk, never to memory.
        "UPLOAD_MAX_MB": env_int("UPLOAD_MAX_MB", 2048, minimum=1, maximum=20480),
        "FULLTEXT_MAX_MB": env_int("FULLTEXT_MAX_MB", 100, minimum=1, maximum=2048),
        # Proxies in front of the app that append the client's address to X-Forwarded-For (compose
        # behind the user's reverse proxy: 1). 0 trusts only REMOTE_ADDR, as the header is forgeable.
        "TRUSTED_PROXY_COUNT": env_int("DJANGO_TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5),
        "LOGIN_FAILURES_PER_ACCOUNT": env_int("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1),
        "LOGIN_FAILURES_PER_ADDRESS": env_int("LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1),
        "LOGIN_LOCKOUT_MINUTES": env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=1440),
        "API_RATE_USER": env_rate("API_RATE_USER", "2000/hour"),
        "API_RATE_ANON": env_rate("API_RATE_ANON", "60/hour"),
        # Mail: the console in development, SMTP in production unless EMAIL_URL says otherwise.
        "EMAIL": env_email_url("EMAIL_URL", "console://" if debug else "smtp://localhost:25"),
        "DEFAULT_FROM_EMAIL": env_str("DEFAULT_FROM_EMAIL", "reviewapp <noreply@localhost>"),
        "EMAIL_MAX_ATTEMPTS": env_int("EMAIL_MAX_ATTEMPTS", 8, minimum=1, maximum=30),
        "EMAIL_RETRY_BASE_SECONDS": env_int("EMAIL_RETRY_BASE_SECONDS", 30, minimum=1),
        "SIGNUP_POLICY": env_choice("SIGNUP_POLICY", "invitation", SIGNUP_POLICIES),
        "SIGNUP_EMAIL_DOMAINS": [
            d.lower().lstrip("@") for d in env_list("SIGNUP_EMAIL_DOMAINS", [])
        ],
        "INVITATION_DAYS": env_int("INVITATION_DAYS", 14, minimum=1, maximum=365),
        # Where links in emails sent by the worker (digests) point; requests use their own host.
        "SITE_URL": env_url(
            "SITE_URL",
            "http://localhost:8000" if debug else "https://localhost",
            schemes=("http", "https"),
        ),
        "DIGEST_HOUR": env_int("DIGEST_HOUR", 7, minimum=0, maximum=23),
        "OIDC": {
            "server_url": env_url("OIDC_SERVER_URL", None, schemes=("http", "https")),
            "client_id": env_str("OIDC_CLIENT_ID"),
            "client_secret": env_secret("OIDC_CLIENT_SECRET", "", refuse_placeholder=not debug),
            "name": env_str("OIDC_NAME", "your institution"),
            "signup": env_bool("OIDC_SIGNUP", False),
        },
        "CSRF_TRUSTED_ORIGINS": [
            origin
            for origin in (env_str("DJANGO_CSRF_TRUSTED_ORIGINS", "") or "").split(",")
            if origin.strip()
        ],
    }


def _accounts_check(env: dict) -> None:
    """Settings that are valid only together."""
    if env["SIGNUP_POLICY"] == "domains" and not env["SIGNUP_EMAIL_DOMAINS"]:
        raise EnvError(
            "SIGNUP_POLICY=domains needs SIGNUP_EMAIL_DOMAINS, e.g. uni.example.edu,example.org."
        )
    oidc = env["OIDC"]
    if oidc["server_url"] and not oidc["client_id"]:
        raise EnvError("OIDC_SERVER_URL is set but OIDC_CLIENT_ID is not; set both, or neither.")
    if oidc["client_id"] and not oidc["server_url"]:
        raise EnvError("OIDC_CLIENT_ID is set but OIDC_SERVER_URL is not; set both, or neither.")


try:
    _env = _settings_from_env()
    _accounts_check(_env)
except EnvError as exc:
    # Fail at start, before anything half-starts, with the variable named.
    raise ImproperlyConfigured(f"Configuration error: {exc}") from None

DEBUG = _env["DEBUG"]
SECRET_KEY = _env["SECRET_KEY"]
ALLOWED_HOSTS = _env["ALLOWED_HOSTS"]
CSRF_TRUSTED_ORIGINS = _env["CSRF_TRUSTED_ORIGINS"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "reviewapp.core",
    "reviewapp.reviews",
    "reviewapp.literature",
    "reviewapp.screening",
    "reviewapp.extraction",
    "reviewapp.synthesis",
    "reviewapp.grade",
    "reviewapp.reporting",
    "reviewapp.audit",
    "reviewapp.demo",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI's files, pinned, for /api/docs/ (nothing loaded from the internet).
    "drf_spectacular_sidecar",
    "reviewapp.api",
    "reviewapp.mail",
    "reviewapp.accounts",
    "reviewapp.notifications",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "axes",
    "csp",
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
    "reviewapp.core.middleware.MethodNotAllowedPageMiddleware",
    "reviewapp.audit.middleware.AuditRequestMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Last, as axes asks: it turns a login refused for too many failures into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "reviewapp.urls"
WSGI_APPLICATION = "reviewapp.wsgi.application"

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
                "reviewapp.core.context_processors.review_nav",
            ],
        },
    },
]

DATABASES = {"default": _env["DATABASE"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Login throttling (django-axes, reviewapp/core/throttling.py). Failures are kept in the database,
# so logging in works while Redis is down. An account is locked after LOGIN_FAILURES_PER_ACCOUNT
# failures, an address after LOGIN_FAILURES_PER_ADDRESS, each for LOGIN_LOCKOUT_MINUTES after the
# latest failure; the right password is refused meanwhile. The admin login goes the same way.
# allauth's backend takes a username or an email address (and is Django's ModelBackend otherwise).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
TRUSTED_PROXY_COUNT = _env["TRUSTED_PROXY_COUNT"]
LOGIN_FAILURES_PER_ACCOUNT = _env["LOGIN_FAILURES_PER_ACCOUNT"]
LOGIN_FAILURES_PER_ADDRESS = _env["LOGIN_FAILURES_PER_ADDRESS"]
AXES_HANDLER = "reviewapp.core.throttling.LoginThrottleHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Axes compares every count with one limit; the handler applies each parameter's own limit.
AXES_FAILURE_LIMIT = max(LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS)
AXES_COOLOFF_TIME = timedelta(minutes=_env["LOGIN_LOCKOUT_MINUTES"])
# Attempts while locked are not counted, so the time the page announces holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "reviewapp.core.throttling.lockout_response"
AXES_CLIENT_IP_CALLABLE = "reviewapp.core.throttling.client_ip"
AXES_HTTP_RESPONSE_CODE = 429
# Axes would also log every successful login (address and browser) in a table nothing prunes.
AXES_DISABLE_ACCESS_LOG = True
# The login form's field is `login` (a username or an email address); the admin's is `username`.
AXES_USERNAME_CALLABLE = "reviewapp.core.throttling.login_username"
LOGIN_REDIRECT_URL = "reviews:review-list"
LOGOUT_REDIRECT_URL = "login"

# Accounts (django-allauth, reviewapp/accounts). Sign in by username or email address; sign up as
# SIGNUP_POLICY allows: by invitation only (the default), open, or open to SIGNUP_EMAIL_DOMAINS.
# A new address must be verified before its account is used; accounts made by an operator with
# no address, and those made before allauth, log in as before (reviewapp/accounts/stages.py).
ACCOUNT_ADAPTER = "reviewapp.accounts.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "reviewapp.accounts.adapter.SocialAccountAdapter"
ACCOUNT_FORMS = {"login": "reviewapp.accounts.forms.LoginForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[reviewapp] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
# Failed logins are throttled by axes above (per account and per address, in the database, with
# the lockout page, so logging in works while Redis is down); allauth's own limits, kept in the
# cache, guard what axes does not see: password-reset and verification mails, sign-ups, password
# changes. They fail closed: while Redis is down those pages answer 429 (and authenticator-app
# codes, whose single use allauth checks in the cache, are refused: recovery codes still work).
ACCOUNT_RATE_LIMITS = {
    "login_failed": None,
    "login": None,
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "confirm_email": "1/3m/key",
    "reauthenticate": "10/m/user",
}
SIGNUP_POLICY = _env["SIGNUP_POLICY"]
SIGNUP_EMAIL_DOMAINS = _env["SIGNUP_EMAIL_DOMAINS"]
INVITATION_DAYS = _env["INVITATION_DAYS"]
SITE_URL = _env["SITE_URL"]
# Daily digests go out at this hour (UTC); "immediately" is checked every hour.
DIGEST_HOUR = _env["DIGEST_HOUR"]
# Two-factor authentication: an authenticator app (TOTP) and single-use recovery codes.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "reviewapp"
# Sign-in for institutions: OpenID Connect, off unless OIDC_SERVER_URL and OIDC_CLIENT_ID are set.
OIDC = _env["OIDC"]
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True  # a verified address from the provider finds its user
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS: dict = {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": []}}
if OIDC["server_url"]:
    SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"].append(
        {
            "provider_id": "institution",
            "name": OIDC["name"],
            "client_id": OIDC["client_id"],
            "secret": OIDC["client_secret"],
            "settings": {"server_url": OIDC["server_url"]},
        }
    )

# Mail (reviewapp/mail): every message is a row in the outbox, sent by a Celery task with retries.
_email = _env["EMAIL"]
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = _email.get("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = _env["DEFAULT_FROM_EMAIL"]
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A failed send is tried again after EMAIL_RETRY_BASE_SECONDS, then four times longer each time.
EMAIL_MAX_ATTEMPTS = _env["EMAIL_MAX_ATTEMPTS"]
EMAIL_RETRY_BASE_SECONDS = _env["EMAIL_RETRY_BASE_SECONDS"]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = _env["STATIC_ROOT"]
MEDIA_URL = "media/"  # never served directly: files go through a members-only view
MEDIA_ROOT = _env["MEDIA_ROOT"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or RUNNING_TESTS
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
UPLOAD_MAX_BYTES = _env["UPLOAD_MAX_MB"] * 1024 * 1024  # files of records
FULLTEXT_MAX_BYTES = _env["FULLTEXT_MAX_MB"] * 1024 * 1024  # one article's PDF

# Security. Production (DEBUG off) is HTTPS-only behind a proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _env["SECURE_SSL_REDIRECT"]
SECURE_HSTS_SECONDS = _env["SECURE_HSTS_SECONDS"]
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = False
# Health checks are asked over plain HTTP from inside the container or the load balancer.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^healthz/live$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_FAILURE_VIEW = "reviewapp.core.views.csrf_failure"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): scripts and styles only from our own files, never inline and
# never eval; no framing; forms post only to us. Pages carry no inline script, style or handler;
# htmx is told not to inject its indicator style nor to eval (templates/base.html), and inline
# plots have their styles rewritten as SVG attributes (reviewapp/core/svg.py). NONCE appears only
# in pages that ask for one (the REST framework's browsable API, templates/rest_framework/api.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
SILENCED_SYSTEM_CHECKS = [
    # HSTS preload is a decision for each deployment's domain owner, not for us.
    "security.W021",
]

# The cache carries progress of background work between processes (reviewapp/core/progress.py),
# so it is Redis whenever Redis is there. Nothing in it is the only copy, so while Redis is down
# or restarting the cache answers misses and drops writes instead of failing the page
# (reviewapp/core/cache.py); the short timeouts make a dead Redis cost milliseconds per request.
CACHES = {
    "default": (
        {
            "BACKEND": "reviewapp.core.cache.ResilientRedisCache",
            "LOCATION": _env["REDIS_URL"],
            "OPTIONS": {
                "socket_connect_timeout": 0.5,
                "socket_timeout": 1.0,
                # After a failure, skip Redis for this many seconds, then try again.
                "RETRY_AFTER": 2.0,
            },
        }
        if _env["REDIS_URL"]
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Sessions are read on every request: from Redis when it is there, written through to the
# database so a restart of Redis logs nobody out, and read from the database while Redis is
# unreachable (the cache above answers a miss). Without Redis, the database alone: a cache in
# each process's memory could hand one gunicorn worker a session another worker has changed.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if _env["REDIS_URL"]
    else "django.contrib.sessions.backends.db"
)

# Celery: Redis as broker and result backend when REDIS_URL is set, otherwise eager in-process.
REDIS_URL = _env["REDIS_URL"]
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60 * 55
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_EXPIRES = 60 * 60 * 24
CELERY_TIMEZONE = TIME_ZONE


def _jobs_settings_from_env() -> dict:
    return {
        "queue": env_str("CELERY_QUEUE", "celery") or "celery",
        # Above the longest hard time limit (CELERY_TASK_TIME_LIMIT): a message still being worked
        # on is never handed to a second worker. A killed worker's job comes back sooner through
        # the heartbeat (core.jobs_recover); this is the broker's own last resort.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 65 * 60, minimum=1),
        "restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10, minimum=1),
        "heartbeat": env_int("JOBS_HEARTBEAT_SECONDS", 30, minimum=1),
        "stale_after": env_int("JOBS_STALE_AFTER_SECONDS", 5 * 60, minimum=2),
        "max_attempts": env_int("JOBS_MAX_ATTEMPTS", 3, minimum=1, maximum=20),
        "export_keep_days": env_int("EXPORT_KEEP_DAYS", 7, minimum=1),
        "beat_schedule_file": env_str(
            "CELERY_BEAT_SCHEDULE_FILENAME",
            str(Path(tempfile.gettempdir()) / "reviewapp-celerybeat-schedule"),
        ),
        # Fault tests only: a pause at each step of a job, so a worker can be killed mid-job.
        "test_step_delay_ms": env_int("JOBS_TEST_STEP_DELAY_MS", 0, minimum=0, maximum=60_000),
    }


try:
    _jobs = _jobs_settings_from_env()
except EnvError as exc:
    raise ImproperlyConfigured(f"Configuration error: {exc}") from None

CELERY_TASK_DEFAULT_QUEUE = _jobs["queue"]
# Acks-late messages a worker took but never acknowledged (it was killed) go back to the queue
# once visibility_timeout has passed; the sweep for them runs about every interval * throttle s.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _jobs["visibility_timeout"],
    "unacked_restore_interval": _jobs["restore_interval"],
    "unacked_restore_throttle": 1,
}
# A job's worker refreshes its heartbeat this often; one silent for JOBS_STALE_AFTER is taken
# back (by its task's redelivery or by core.jobs_recover) at most JOBS_MAX_ATTEMPTS times in all.
JOBS_HEARTBEAT_SECONDS = _jobs["heartbeat"]
JOBS_STALE_AFTER_SECONDS = max(_jobs["stale_after"], 2 * JOBS_HEARTBEAT_SECONDS)
JOBS_MAX_ATTEMPTS = _jobs["max_attempts"]
JOBS_TEST_STEP_DELAY_MS = _jobs["test_step_delay_ms"]
# Finished background exports are kept this many days, then their file is deleted.
EXPORT_KEEP_DAYS = _jobs["export_keep_days"]

# Where beat remembers when each entry last ran: a writable place even in a read-only image.
CELERY_BEAT_SCHEDULE_FILENAME = _jobs["beat_schedule_file"]
# What `celery -A reviewapp beat` sends. Each entry expires before the next is due, so a worker
# that was down finds one of each waiting, not a pile-up.
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {
        "task": "core.worker_heartbeat",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "jobs-recover": {
        "task": "core.jobs_recover",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "sessions-clear": {
        "task": "core.sessions_clear",
        "schedule": crontab(hour=3, minute=15),
        "options": {"expires": 60 * 60 * 12},
    },
    "duplicate-versions-prune": {
        "task": "core.duplicate_versions_prune",
        "schedule": crontab(hour=3, minute=35),
        "options": {"expires": 60 * 60 * 12},
    },
    # Mail whose task never reached the broker (Redis was down when it was queued) goes out here.
    "mail-outbox-flush": {
        "task": "mail.outbox_flush",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "notifications-digests": {
        "task": "notifications.digests_send",
        "schedule": crontab(minute=5),
        "options": {"expires": 60 * 50},
    },
    # Living reviews: one entry finds the stored searches whose schedule is due and queues each
    # one run (idempotent; reviewapp/literature/living.py).
    "living-searches-due": {
        "task": "literature.living_due_queue",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 60 * 14},
    },
    "exports-expire": {
        "task": "extraction.exports_expire",
        "schedule": crontab(hour=3, minute=45),
        "options": {"expires": 60 * 60 * 12},
    },
}

# The read-only JSON API (reviewapp/api). Token first, so an anonymous request gets 401 with a
# WWW-Authenticate header; browsers use their session.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "reviewapp.api.pagination.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Counted in the cache per user (per address for anonymous requests); a 429 says when to retry.
    "DEFAULT_THROTTLE_CLASSES": [
        "reviewapp.api.throttling.UserThrottle",
        "reviewapp.api.throttling.AnonThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"user": _env["API_RATE_USER"], "anon": _env["API_RATE_ANON"]},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "reviewapp API",
    "DESCRIPTION": "Read-only access to reviews, records, screening decisions, PRISMA 2020 "
    "counts and extracted data, scoped by review membership.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# PubMed through Bio.Entrez (reviewapp/integrations/entrez.py reads these).
ENTREZ_EMAIL = _env["ENTREZ_EMAIL"]
ENTREZ_API_KEY = _env["ENTREZ_API_KEY"]
ENTREZ_BASE_URL = _env["ENTREZ_BASE_URL"]
# Open-access retrieval of full texts: PubMed Central's OA service and Unpaywall.
PMC_OA_BASE_URL = _env["PMC_OA_BASE_URL"]
UNPAYWALL_EMAIL = _env["UNPAYWALL_EMAIL"]
UNPAYWALL_BASE_URL = _env["UNPAYWALL_BASE_URL"]
OPENACCESS_ALLOW_PRIVATE_HOSTS = _env["OPENACCESS_ALLOW_PRIVATE_HOSTS"]
RETRIEVAL_FETCH_THREADS = _env["RETRIEVAL_FETCH_THREADS"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    # fontTools logs every glyph subset while matplotlib writes a PDF: noise, not news.
    # axes logs failures and lockouts as warnings; its INFO lines repeat every login and cleanup.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
