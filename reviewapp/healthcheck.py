"""The web container's health check, run by docker-compose inside it; exit 0 when healthy.

    python -m reviewapp.healthcheck http://127.0.0.1:8000/healthz/live

It sends a Host header taken from DJANGO_ALLOWED_HOSTS, the way a request through
the site's own proxy arrives, so host validation stays on for every request, the health URLs
included: a check with `Host: localhost` is refused by a production ALLOWED_HOSTS (Django answers
400 and logs a DisallowedHost traceback). It also says the request came over HTTPS, as the
proxy does, so the HTTPS redirect never answers in place of the view.

No Django start (settings, apps, URLconf): a check every 15 seconds costs a fraction of a second.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

from reviewapp.env import EnvError, env_bool, env_hosts

TIMEOUT_SECONDS = 5


def host_for_check(environ: Mapping[str, str] | None = None) -> str:
    """A Host header that the site's ALLOWED_HOSTS accepts (read as settings.py reads it)."""
    debug = env_bool("DJANGO_DEBUG", False, environ=environ)
    hosts = env_hosts("DJANGO_ALLOWED_HOSTS", ["localhost"] if debug else [], environ=environ)
    if not hosts or hosts[0] == "*":
        return "localhost"
    # ".example.org" allows example.org and every subdomain of it.
    return hosts[0].lstrip(".")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is an answer other than the health view's: report it


def check_url(url: str, *, environ: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """(healthy, what was seen): healthy when the URL answers 200 to an allowed Host."""
    request = urllib.request.Request(
        url, headers={"Host": host_for_check(environ), "X-Forwarded-Proto": "https"}
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(500).decode("utf-8", "replace")
            return response.status == 200, f"{url}: {response.status} {body}"
    except urllib.error.HTTPError as exc:
        body = exc.read(500).decode("utf-8", "replace")
        return False, f"{url}: {exc.code} {body}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url}: no answer ({exc})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reviewapp.healthcheck")
    parser.add_argument("url", help="a health URL that must answer 200")
    args = parser.parse_args(argv)
    try:
        healthy, seen = check_url(args.url)
    except EnvError as exc:
        healthy, seen = False, f"Configuration error: {exc}"
    print(
        ("healthy: " if healthy else "unhealthy: ") + seen,
        file=sys.stdout if healthy else sys.stderr,
    )
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
