"""The Redis cache degrades while Redis is down and resumes by itself (reviewapp/core/cache.py).

Each test runs its own redis-server on a free port and kills it; the machine's Redis is untouched.
"""

import socket
import threading
import time

import pytest
import redis
from django.core.cache.backends.redis import RedisCache

from reviewapp.core import cache as cache_module
from reviewapp.core.cache import ResilientRedisCache
from reviewapp.core.progress import progress_read, progress_write
from tests.own_services import RedisServer, free_port

RETRY_AFTER = 0.3


@pytest.fixture(autouse=True)
def _fresh_health_per_test():
    # What a process knows of a Redis is shared per location; each test's Redis is new.
    cache_module._health_by_location.clear()
    yield
    for health in cache_module._health_by_location.values():
        health.stale_keys.clear()  # its repair thread, if any, ends at its next look
    cache_module._health_by_location.clear()


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def persistent_redis(tmp_path):
    server = RedisServer(tmp_path, persistent=True)
    server.start()
    yield server
    server.stop()


def cache_for(url: str, **options) -> ResilientRedisCache:
    return ResilientRedisCache(
        url,
        {
            "OPTIONS": {
                "socket_connect_timeout": 0.5,
                "socket_timeout": 1.0,
                "RETRY_AFTER": RETRY_AFTER,
                **options,
            }
        },
    )


def test_djangos_own_redis_cache_raises_when_redis_is_down(own_redis):
    # Why the subclass exists: the stock backend turns a dead Redis into a 500 on every page.
    plain = RedisCache(own_redis.url, {"OPTIONS": {"socket_connect_timeout": 0.5}})
    plain.set("k", 1)
    own_redis.kill()
    with pytest.raises(redis.ConnectionError):
        plain.get("k")


def test_reads_are_misses_and_writes_are_dropped_while_redis_is_down(own_redis):
    cache = cache_for(own_redis.url)
    cache.set("kept", "value")
    assert cache.get("kept") == "value"
    own_redis.kill()

    started = time.monotonic()
    assert cache.get("kept") is None
    assert cache.get("kept", "default") == "default"
    assert cache.get_many(["kept", "other"]) == {}
    assert cache.has_key("kept") is False
    assert "kept" not in cache
    cache.set("new", 1)
    assert cache.add("lock", 1) is False  # nobody holds a lock Redis never stored
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert cache.delete("kept") is False
    cache.delete_many(["a", "b"])
    assert cache.touch("kept") is False
    assert cache.get_or_set("computed", lambda: 42) == 42
    with pytest.raises(ValueError):
        cache.incr("counter")  # what incr says of any key it cannot find
    elapsed = time.monotonic() - started

    # A refused connection costs milliseconds, and after it this process does not even try.
    assert elapsed < 1.0, f"thirteen operations on a dead Redis took {elapsed:.2f} s"


def test_the_cache_resumes_when_redis_is_back_without_a_new_cache_object(own_redis):
    cache = cache_for(own_redis.url)
    own_redis.kill()
    cache.set("k", "lost")
    assert cache.get("k") is None

    own_redis.start()  # same port, empty: a restart without persistence
    time.sleep(RETRY_AFTER + 0.1)
    cache.set("k", "kept")
    assert cache.get("k") == "kept"
    assert redis.Redis.from_url(own_redis.url).exists(cache.make_key("k")) == 1


def test_a_value_changed_while_redis_was_down_is_not_read_back_stale_when_it_returns(
    persistent_redis,
):
    # A Redis that keeps its data across a restart still holds the value from before the outage;
    # the change made meanwhile went to the database only. Reading the old value back would
    # resurrect, for example, a session logged out during the outage.
    cache = cache_for(persistent_redis.url)
    cache.set("session", {"user": 7})
    persistent_redis.kill()
    cache.delete("session")  # a logout while Redis is down
    cache.set("counts", "new")

    persistent_redis.start()
    raw = redis.Redis.from_url(persistent_redis.url)
    assert raw.exists(cache.make_key("session")) == 1, "the restarted Redis lost its data"
    time.sleep(RETRY_AFTER + 0.1)

    assert cache.get("session") is None
    assert cache.get("counts") is None
    assert raw.exists(cache.make_key("session")) == 0


def test_another_thread_of_the_process_sees_what_the_first_thread_could_not_write(
    persistent_redis,
):
    # Django gives each thread its own cache object; a gunicorn worker has two threads.
    cache = cache_for(persistent_redis.url)
    cache.set("session", {"user": 7})
    persistent_redis.kill()

    def logout_in_another_thread():
        cache_for(persistent_redis.url).delete("session")

    thread = threading.Thread(target=logout_in_another_thread)
    thread.start()
    thread.join()
    persistent_redis.start()
    time.sleep(RETRY_AFTER + 0.1)
    assert cache.get("session") is None


def test_keys_this_process_failed_to_write_are_dropped_soon_after_redis_returns_even_if_idle(
    persistent_redis,
):
    # Another gunicorn worker may read the key before this one handles its next request: a
    # background thread deletes it within RETRY_AFTER seconds of Redis answering again.
    cache = cache_for(persistent_redis.url)
    cache.set("session", {"user": 7})
    persistent_redis.kill()
    cache.delete("session")
    persistent_redis.start()
    raw = redis.Redis.from_url(persistent_redis.url)
    key = cache.make_key("session")
    deadline = time.monotonic() + 10 * RETRY_AFTER
    while raw.exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert raw.exists(key) == 0
    assert cache_module._health_by_location[persistent_redis.url].stale_keys == {}


def test_a_redis_that_accepts_but_never_answers_costs_one_timeout_then_nothing():
    # A hung Redis (or a network that drops packets) is worse than a dead one: each call waits
    # for its socket timeout. One call pays it; the next RETRY_AFTER seconds do not try.
    silent = socket.socket()
    silent.bind(("127.0.0.1", free_port()))
    silent.listen(16)
    port = silent.getsockname()[1]
    try:
        cache = cache_for(f"redis://127.0.0.1:{port}/0", socket_timeout=0.3, RETRY_AFTER=5)
        started = time.monotonic()
        assert cache.get("k") is None
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(20):
            assert cache.get("k") is None
            cache.set("k", 1)
        rest = time.monotonic() - started
    finally:
        silent.close()
    assert 0.25 < first < 2.0
    assert rest < 0.1, f"40 operations while Redis was known down took {rest:.2f} s"


def test_progress_of_a_job_is_unknown_rather_than_an_error_while_redis_is_down(own_redis, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "reviewapp.core.cache.ResilientRedisCache",
            "LOCATION": own_redis.url,
            "OPTIONS": {"RETRY_AFTER": RETRY_AFTER},
        }
    }
    progress_write("import", 1, done=10, total=100)
    assert progress_read("import", 1) == {"done": 10, "total": 100}
    own_redis.kill()
    progress_write("import", 1, done=20, total=100)
    assert progress_read("import", 1) is None
