"""API throttles: a rate per user and per anonymous address, and a 429 that says when to retry."""

import uuid

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.authtoken.models import Token

from reviewapp.api.throttling import AnonThrottle, UserThrottle


@pytest.fixture
def low_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "anon": "2/minute"},
    }


def _forget(throttle_class, request_like):
    # Counters live in the shared cache for a minute; a rerun within it must start afresh.
    cache.delete(throttle_class().get_cache_key(request_like, None))


class _Request:
    def __init__(self, user, addr):
        self.user, self.META = user, {"REMOTE_ADDR": addr}


def test_a_user_over_the_rate_gets_429_json_saying_when_to_retry(api, analyst, review, low_rates):
    token = Token.objects.create(user=analyst)
    _forget(UserThrottle, _Request(analyst, "127.0.0.1"))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    url = reverse("api:review-list")
    assert [api.get(url).status_code for _ in range(3)] == [200, 200, 200]
    response = api.get(url)
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/json")
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 60
    assert response.json()["detail"] == (
        f"Request was throttled. Expected available in {retry_after} seconds."
    )


def test_each_user_has_their_own_allowance(api, analyst, reviewer, review, low_rates):
    for user in (analyst, reviewer):
        _forget(UserThrottle, _Request(user, "127.0.0.1"))
    url = reverse("api:review-list")
    api.force_authenticate(analyst)
    for _ in range(3):
        api.get(url)
    assert api.get(url).status_code == 429
    api.force_authenticate(reviewer)
    assert api.get(url).status_code == 200


def test_anonymous_callers_are_counted_per_address(client, db, low_rates):
    from django.contrib.auth.models import AnonymousUser

    addr = f"2001:db8::{uuid.uuid4().hex[:4]}"
    other = f"2001:db8::1:{uuid.uuid4().hex[:4]}"
    for a in (addr, other):
        _forget(AnonThrottle, _Request(AnonymousUser(), a))
    url = reverse("api:schema")
    assert [client.get(url, REMOTE_ADDR=addr).status_code for _ in range(2)] == [200, 200]
    response = client.get(url, REMOTE_ADDR=addr)
    assert response.status_code == 429 and "Retry-After" in response
    assert client.get(url, REMOTE_ADDR=other).status_code == 200


def test_an_unreachable_cache_lets_calls_through_rather_than_failing(
    api, analyst, review, settings
):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "1/minute", "anon": "1/minute"},
    }
    api.force_authenticate(analyst)
    url = reverse("api:review-list")
    assert [api.get(url).status_code for _ in range(3)] == [200, 200, 200]
