"""Read settings from the environment, rejecting junk values with a message naming the variable.

Pure helpers with no Django import, so they can be tested on their own and so that a malformed
value stops the process before Django half-starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
HOST_PATTERN = re.compile(r"^(\*|\.?[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(:\d+)?$")
# Values shipped in .env.example or left in place from a template: never a real secret.
PLACEHOLDER_PATTERN = re.compile(
    r"change[-_ ]?me|replace[-_ ]?me|^changeit$|^(password|secret|postgres)$", re.IGNORECASE
)


class EnvError(ValueError):
    """A variable is set to a value we cannot use; the message names the variable."""


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def env_str(name: str, default: str | None = None, *, environ: Mapping[str, str] | None = None):
    value = _raw(name, environ)
    return default if value is None else value


def is_placeholder(value: str) -> bool:
    """True for a value that is a template's stand-in (`change-me...`), not a chosen secret."""
    return bool(PLACEHOLDER_PATTERN.search(value.strip()))


def env_secret(
    name: str,
    default: str | None = None,
    *,
    refuse_placeholder: bool,
    strip: bool = True,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """A secret (key, password). With `refuse_placeholder` (production) a stand-in value from
    .env.example is refused, naming the variable; the value itself is never echoed. `strip=False`
    keeps surrounding spaces, which are part of a password."""
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip() if strip else raw
    if refuse_placeholder and is_placeholder(value):
        raise EnvError(
            f"{name} is still a placeholder (like the one in .env.example); set a real secret, "
            "e.g. the output of: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
    return value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    word = value.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise EnvError(
        f"{name}={value!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off."
    )


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise EnvError(f"{name}={number} is below the minimum of {minimum}.")
    if maximum is not None and number > maximum:
        raise EnvError(f"{name}={number} is above the maximum of {maximum}.")
    return number


def env_list(name: str, default: list[str], *, environ: Mapping[str, str] | None = None):
    """A comma-separated list; empty items are dropped."""
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_hosts(name: str, default: list[str], *, environ: Mapping[str, str] | None = None):
    hosts = env_list(name, default, environ=environ)
    for host in hosts:
        if not HOST_PATTERN.match(host):
            raise EnvError(
                f"{name} contains {host!r}, which is not a host name "
                "(give names separated by commas, e.g. example.org,.example.net)."
            )
    return hosts


def env_url(
    name: str,
    default: str | None,
    *,
    schemes: tuple[str, ...],
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """A URL whose scheme is one of `schemes` and that names a host (or, for sqlite, a path)."""
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a non-numeric port
    except ValueError as exc:
        raise EnvError(
            f"{name} is not a valid URL: {exc} (a password containing @ : / # ? or % must be "
            "percent-encoded in a URL)."
        ) from None
    del port
    if parts.scheme not in schemes:
        raise EnvError(
            f"{name}={value!r} has scheme {parts.scheme or '(none)'!r}; expected one of "
            + ", ".join(schemes)
            + "."
        )
    if parts.scheme != "sqlite" and not parts.hostname:
        raise EnvError(f"{name}={value!r} names no host.")
    return value


def env_path(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    if value is None:
        return default
    if "\x00" in value:
        raise EnvError(f"{name} contains a NUL byte.")
    if not os.path.isabs(value):
        raise EnvError(f"{name}={value!r} must be an absolute path.")
    return value


def env_email(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    if value is None:
        return default
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise EnvError(f"{name}={value!r} is not an email address.")
    return value


RATE_PATTERN = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    """A request rate as Django REST framework reads it: a number, a slash and s, m, h or d."""
    value = _raw(name, environ)
    if value is None:
        return default
    if not RATE_PATTERN.match(value):
        raise EnvError(
            f"{name}={value!r} is not a rate; give requests per period, e.g. 100/minute or 2000/hour."
        )
    return value


EMAIL_SCHEMES = ("smtp", "smtp+tls", "smtps", "smtp+ssl", "console", "dummy")


def env_email_url(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> dict:
    """How to send mail, from one URL: Django's EMAIL_* settings.

    smtp://user:password@host:587 (plain, upgraded to TLS only with smtp+tls://), smtps:// or
    smtp+ssl:// (TLS from the first byte, usually port 465), console:// (print each message: the
    development default) and dummy:// (drop them). A user name or password with @ : / must be
    percent-encoded, as in any URL. `?timeout=SECONDS` bounds each connection attempt.
    """
    from urllib.parse import parse_qs, unquote

    value = _raw(name, environ) or default
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise EnvError(
            f"{name} is not a valid URL: {exc} (a password containing @ : / # ? or % must be "
            "percent-encoded in a URL)."
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in EMAIL_SCHEMES:
        raise EnvError(
            f"{name} has scheme {scheme or '(none)'!r}; expected one of "
            + ", ".join(EMAIL_SCHEMES)
            + " (e.g. smtp+tls://user:password@smtp.example.org:587)."
        )
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "dummy":
        return {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    if not parts.hostname:
        raise EnvError(f"{name} names no host (e.g. smtp://mail.example.org:25).")
    query = parse_qs(parts.query)
    timeout = 30
    if "timeout" in query:
        try:
            timeout = int(query["timeout"][0])
        except ValueError:
            raise EnvError(
                f"{name}: timeout={query['timeout'][0]!r} is not whole seconds."
            ) from None
    implicit_tls = scheme in ("smtps", "smtp+ssl")
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or (465 if implicit_tls else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": scheme == "smtp+tls",
        "EMAIL_USE_SSL": implicit_tls,
        "EMAIL_TIMEOUT": timeout,
    }


SIGNUP_POLICIES = ("invitation", "open", "domains")


def env_choice(
    name: str, default: str, choices: tuple[str, ...], *, environ: Mapping[str, str] | None = None
) -> str:
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() not in choices:
        raise EnvError(f"{name}={value!r} is not one of " + ", ".join(choices) + ".")
    return value.lower()
