"""The one settings module. Everything that differs between machines comes from the environment.

Unset DATABASE_URL means a SQLite file (the embedded default); unset REDIS_URL means Celery tasks run
eagerly in-process. See .env.example for every variable.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from reviewapp.env import (
    EnvError,
    env_bool,
    env_email,
    env_hosts,
    env_int,
    env_path,
    env_secret,
    env_str,
    env_url,
    is_placeholder,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"
# Test runs use DEBUG off like production, but need no secret of their own.
RUNNING_TESTS = "pytest" in sys.modules or sys.argv[1:2] == ["test"]


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
        "MEDIA_ROOT": env_path("MEDIA_ROOT", str(BASE_DIR / "media")),
        "STATIC_ROOT": env_path("STATIC_ROOT", str(BASE_DIR / "staticfiles")),
        "SECURE_SSL_REDIRECT": env_bool("DJANGO_SECURE_SSL_REDIRECT", not debug),
        "SECURE_HSTS_SECONDS": env_int(
            "DJANGO_SECURE_HSTS_SECONDS", 0 if debug else 31536000, minimum=0
        ),
        # A 100,000-record PubMed XML export is about 900 MB; files stream to disk, never to memory.
        "UPLOAD_MAX_MB": env_int("UPLOAD_MAX_MB", 2048, minimum=1, maximum=20480),
        "FULLTEXT_MAX_MB": env_int("FULLTEXT_MAX_MB", 100, minimum=1, maximum=2048),
        "CSRF_TRUSTED_ORIGINS": [
            origin
            for origin in (env_str("DJANGO_CSRF_TRUSTED_ORIGINS", "") or "").split(",")
            if origin.strip()
        ],
    }


try:
    _env = _settings_from_env()
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
    "reviewapp.reporting",
    "reviewapp.demo",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "reviewapp.api",
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
LOGIN_REDIRECT_URL = "reviews:review-list"
LOGOUT_REDIRECT_URL = "login"

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
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SILENCED_SYSTEM_CHECKS = [
    # HSTS preload is a decision for each deployment's domain owner, not for us.
    "security.W021",
]

# The cache carries progress of background work between processes (reviewapp/core/progress.py),
# so it is Redis whenever Redis is there.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _env["REDIS_URL"]}
        if _env["REDIS_URL"]
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Sessions are read on every request: from Redis when it is there, written through to the
# database so a restart of Redis logs nobody out. Without Redis, the database alone: a cache in
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
}
SPECTACULAR_SETTINGS = {
    "TITLE": "reviewapp API",
    "DESCRIPTION": "Read-only access to reviews, records, screening decisions, PRISMA 2020 "
    "counts and extracted data, scoped by review membership.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

# PubMed through Bio.Entrez (reviewapp/integrations/entrez.py reads these).
ENTREZ_EMAIL = _env["ENTREZ_EMAIL"]
ENTREZ_API_KEY = _env["ENTREZ_API_KEY"]
ENTREZ_BASE_URL = _env["ENTREZ_BASE_URL"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    # fontTools logs every glyph subset while matplotlib writes a PDF: noise, not news.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}
