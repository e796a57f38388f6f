"""The web container's health check (reviewapp/healthcheck.py) that docker-compose runs."""

import socket
import urllib.error
import urllib.request

import pytest
from django.urls import Resolver404, resolve

from reviewapp.healthcheck import check_url, host_for_check, main


def _liveness_path():
    # /healthz/live comes with the resilience work (issue 12); /healthz answers on the same terms
    # (process and database) until it is in the URLconf, and after it also on broker and worker.
    try:
        resolve("/healthz/live")
    except Resolver404:
        return "/healthz"
    return "/healthz/live"


@pytest.mark.parametrize(
    ("environ", "host"),
    [
        ({"DJANGO_ALLOWED_HOSTS": "reviews.example.org,www.example.org"}, "reviews.example.org"),
        ({"DJANGO_ALLOWED_HOSTS": ".example.org"}, "example.org"),
        ({"DJANGO_ALLOWED_HOSTS": "*"}, "localhost"),
        ({"DJANGO_DEBUG": "1"}, "localhost"),
    ],
)
def test_the_check_sends_a_host_the_allowed_hosts_accept(environ, host):
    assert host_for_check(environ) == host


@pytest.fixture
def production_hosts(settings, live_server):
    settings.ALLOWED_HOSTS = ["reviews.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    return {"DJANGO_ALLOWED_HOSTS": "reviews.example.org"}


def test_the_check_passes_where_a_localhost_host_is_refused(live_server, production_hosts):
    url = f"{live_server.url}{_liveness_path()}"
    refused = urllib.request.Request(url, headers={"Host": "localhost"})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(refused, timeout=10)
    assert answer.value.code == 400  # what compose's old `curl -H "Host: localhost"` got

    healthy, seen = check_url(url, environ=production_hosts)
    assert healthy, seen
    assert '"database": "ok"' in seen


def test_a_redirect_or_an_error_is_unhealthy(live_server, production_hosts):
    healthy, seen = check_url(f"{live_server.url}/", environ=production_hosts)
    assert not healthy
    assert "302" in seen  # home redirects to the review list: not a health answer


def test_no_server_is_unhealthy_and_exits_non_zero(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main([f"http://127.0.0.1:{port}/healthz/live"]) == 1
    assert "unhealthy" in capsys.readouterr().err
