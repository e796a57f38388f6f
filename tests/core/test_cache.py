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


class CountingListener:
    """A TCP port that counts the connections made to it: a Redis that is there but broken.

    "close" accepts and hangs up at once (a Redis dropping connections); "silent" accepts and never
    answers (a hung Redis, or a network that drops packets). What the tests below check is whether
    the cache tries Redis at all, which a count shows exactly and a stopwatch only suggests.
    """

    def __init__(self, port: int, *, answer: str):
        self.connections = 0
        self._answer = answer
        self._held: list[socket.socket] = []
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self._socket.listen(64)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed
            self.connections += 1
            if self._answer == "close":
                connection.close()
            else:
                self._held.append(connection)

    def close(self) -> None:
        self._socket.close()
        for connection in self._held:
            connection.close()


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
    broken = CountingListener(own_redis.port, answer="close")
    try:
        assert cache.get("kept") is None
        tries_for_the_first_call = broken.connections
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
        tries_after = broken.connections
    finally:
        broken.close()

    # The first call finds Redis broken; for RETRY_AFTER seconds after it this process does not
    # even try, so a page pays for at most one failed connection, not one per cache call.
    assert tries_for_the_first_call >= 1
    assert tries_after == tries_for_the_first_call


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
    silent = CountingListener(free_port(), answer="silent")
    port = silent._socket.getsockname()[1]
    try:
        cache = cache_for(f"redis://127.0.0.1:{port}/0", socket_timeout=0.3, RETRY_AFTER=5)
        assert cache.get("k") is None
        tries_for_the_first_call = silent.connections
        for _ in range(20):
            assert cache.get("k") is None
            cache.set("k", 1)
        tries_after = silent.connections
    finally:
        silent.close()
    assert tries_for_the_first_call >= 1
    assert tries_after == tries_for_the_first_call, "the cache kept asking a Redis known down"


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
