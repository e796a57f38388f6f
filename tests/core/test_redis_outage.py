"""Redis killed and restarted under use: pages load, login works, /healthz tells the truth.

As in production: gunicorn with reviewapp's config (DEBUG off) against the test database, its
REDIS_URL (cache, sessions, broker) a redis-server this test starts on a free port and kills with
SIGKILL. The machine's Redis is never touched.
"""

import json
import time

import pytest
import redis
from django.urls import reverse

from reviewapp.core.services import worker_heartbeat_record
from reviewapp.screening.constants import Stage
from tests.own_services import PASSWORD, Browser, app_server

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _pages(review):
    return [
        reverse("reviews:review-list"),
        reverse("reviews:review-detail", args=[review.slug]),
        reverse("screening:screen", args=[review.slug, Stage.TITLE_ABSTRACT]),
    ]


def _assert_pages_load(browser, review):
    for path in _pages(review):
        response = browser.get(path)
        assert response.status == 200, f"{path}: {response.status}\n{response.text[:500]}"
        assert review.title in response.text, path
    return response


def _session_keys(own_redis):
    return redis.Redis.from_url(own_redis.url).keys("*django.contrib.sessions.cached_db*")


def test_pages_load_and_login_works_while_redis_is_down_and_everything_resumes_when_it_returns(
    needs_postgresql, cast, tmp_path, media_root, static_root
):
    review = cast["review"]
    worker_heartbeat_record(hostname="celery@worker-1")  # a worker that beat just now
    own_redis, web = app_server(tmp_path, media_root, static_root)
    try:
        rita = Browser(web.port)
        assert rita.login("rita", PASSWORD).status == 302
        _assert_pages_load(rita, review)
        assert _session_keys(own_redis), "with Redis up, sessions are cached in it"
        assert Browser(web.port).get("/healthz").status == 200

        own_redis.kill()

        # Logged in before: her session comes from the database now.
        slowest = 0.0
        for _ in range(2):
            for path in _pages(review):
                response = rita.get(path)
                assert response.status == 200, f"{path}: {response.status}\n{response.text[:500]}"
                slowest = max(slowest, response.elapsed)
        # Logging in while Redis is down.
        olivia = Browser(web.port)
        response = olivia.login("olivia", PASSWORD)
        assert response.status == 302, response.text[:500]
        assert response.getheader("Location") == reverse("reviews:review-list")
        _assert_pages_load(olivia, review)

        health = Browser(web.port).get("/healthz")
        assert health.status == 503
        body = json.loads(health.text)
        assert (body["broker"], body["database"], body["worker"]) == ("down", "ok", "ok")
        assert Browser(web.port).get("/healthz/live").status == 200

        own_redis.start()  # same port, empty, as a restarted container without persistence

        assert Browser(web.port).get("/healthz").status == 200
        # Sessions are cached in Redis again, without restarting gunicorn: within the back-off
        # the cache waits before trying a Redis it found down.
        deadline = time.monotonic() + 10
        while len(_session_keys(own_redis)) < 2 and time.monotonic() < deadline:
            _assert_pages_load(rita, review)
            _assert_pages_load(olivia, review)
            time.sleep(0.2)
        assert len(_session_keys(own_redis)) == 2
        assert Browser(web.port).login("rita", PASSWORD).status == 302
    finally:
        log = web.stop()
        own_redis.stop()
    assert "Traceback" not in log, log
    # Pages did not wait for the dead Redis: a refused connection, then the back-off.
    assert slowest < 5.0, f"a page took {slowest:.2f} s while Redis was down"


def test_a_session_logged_out_while_redis_was_down_stays_logged_out_when_redis_returns_with_its_data(
    needs_postgresql, cast, tmp_path, media_root, static_root
):
    # A Redis with persistence comes back with the session as it was before the outage; the
    # logout went to the database only. The stolen copy of the cookie must not work again.
    review = cast["review"]
    own_redis, web = app_server(tmp_path, media_root, static_root, persistent=True)
    try:
        rita = Browser(web.port)
        assert rita.login("rita", PASSWORD).status == 302
        _assert_pages_load(rita, review)
        stolen = dict(rita.cookies)
        assert len(_session_keys(own_redis)) == 1

        own_redis.kill()
        response = rita.request(
            "POST", "/accounts/logout/", {"csrfmiddlewaretoken": rita.cookies["csrftoken"]}
        )
        assert response.status == 302
        own_redis.start()
        assert len(_session_keys(own_redis)) == 1, "Redis came back with the old session"
        time.sleep(2.5)  # the cache's back-off (settings.CACHES RETRY_AFTER) has passed

        thief = Browser(web.port)
        thief.cookies = stolen
        response = thief.get(reverse("reviews:review-list"))
        assert response.status == 302
        assert response.getheader("Location").startswith(reverse("login"))
        assert _session_keys(own_redis) == []
    finally:
        log = web.stop()
        own_redis.stop()
    assert "Traceback" not in log, log
