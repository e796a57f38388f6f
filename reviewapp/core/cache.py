"""A Redis cache that degrades instead of failing while Redis is down or restarting.

Everything we keep in the cache can be rebuilt: sessions are written through to the database
(cached_db), progress of jobs is rewritten by the next batch, screening counts are recounted, DRF
throttle histories start afresh. So an unreachable Redis must cost a page nothing: reads are misses,
writes are dropped, each logged. Django's own RedisCache raises instead, and has no option to
ignore errors (django-redis has one, but it is a second Redis client library for one flag).

Three details keep a dead Redis cheap and a returning one correct:
- short socket timeouts (settings.CACHES), so a refused or silent Redis costs milliseconds;
- after a failure, this process leaves Redis alone for RETRY_AFTER seconds (a miss, no wait),
  then tries again, so it resumes by itself when Redis is back, without a restart;
- a key this process failed to write or delete may still hold an older value in Redis (a
  logged-out session, if Redis kept its data across a restart, or only this process lost its
  connection). Such keys are remembered and deleted first thing once Redis answers again, so a
  reader falls back to the database instead of trusting the older value: before this process's
  next cache call, and by a background thread every RETRY_AFTER seconds until done. Within this
  process that is airtight; another process (another gunicorn worker) could still read the older
  value in the few seconds between Redis coming back and that thread's next try.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Keys whose write failed, kept per process until Redis answers again. An outage long enough to
# overflow this has touched far more keys than the per-process list can repair; the oldest go
# (sessions expire on their own, progress and counts are overwritten).
STALE_KEYS_MAX = 10_000


class _RedisHealth:
    """What one process knows of one Redis: shared by all its threads.

    Django gives each thread its own cache object, but a gunicorn worker's two threads must not
    each pay for finding Redis down, nor miss a key the other failed to write.
    """

    def __init__(self) -> None:
        self.down_until = 0.0
        self.stale_keys: dict[str, None] = {}  # insertion-ordered set of raw keys
        self.lock = threading.Lock()
        self.repairer: threading.Thread | None = None


_health_by_location: dict[str, _RedisHealth] = {}
_health_lock = threading.Lock()


def _health_of(location: str) -> _RedisHealth:
    with _health_lock:
        return _health_by_location.setdefault(location, _RedisHealth())


class _OneClientPerPool(RedisCacheClient):
    """Django's client makes a redis.Redis for every call, which copies its 170 response
    callbacks (0.2 ms, on every request that reads its session). A redis.Redis only wraps its
    connection pool and is safe to share, so one per pool does; Django gives each thread its
    own cache object, so this is one per thread too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._client(connection_pool=self._get_connection_pool(write))
            self._clients[index] = client
        return client


class ResilientRedisCache(RedisCache):
    """Django's RedisCache; while Redis cannot be reached, a miss for reads and a no-op for writes."""

    def __init__(self, server, params):
        options = dict(params.get("OPTIONS", {}))
        self.retry_after = float(options.pop("RETRY_AFTER", 2.0))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = _OneClientPerPool
        self._health = _health_of(",".join(self._servers))

    # -- the guard ------------------------------------------------------------------------------

    def _call(self, fallback: T, operation: Callable[[], T], *, stale: Iterable[str] = ()) -> T:
        """Run `operation` against Redis; on a Redis error log it and return `fallback`.

        `stale` names the raw keys the operation writes: if it does not reach Redis they are
        remembered, to be deleted when Redis answers again.
        """
        health = self._health
        if time.monotonic() < health.down_until:
            self._remember_stale(stale)
            return fallback
        try:
            self._forget_stale_keys()
            return operation()
        except RedisError as exc:
            health.down_until = time.monotonic() + self.retry_after
            self._remember_stale(stale)
            logger.warning(
                "Redis cache unreachable (%s: %s); carrying on without it, retrying in %.1f s",
                exc.__class__.__name__,
                exc,
                self.retry_after,
            )
            return fallback

    def _remember_stale(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        health = self._health
        with health.lock:
            for key in keys:
                health.stale_keys[key] = None
            while len(health.stale_keys) > STALE_KEYS_MAX:
                del health.stale_keys[next(iter(health.stale_keys))]
            if health.repairer is None or not health.repairer.is_alive():
                health.repairer = threading.Thread(
                    target=self._repair_until_done, name="redis-cache-repair", daemon=True
                )
                health.repairer.start()

    def _repair_until_done(self) -> None:
        """Delete the stale keys as soon as Redis answers again, even if this process is idle.

        Otherwise a gunicorn worker that serves no request for a while would leave its stale
        keys for the other workers to read.
        """
        health = self._health
        while True:
            time.sleep(self.retry_after)
            with health.lock:
                if not health.stale_keys:
                    health.repairer = None
                    return
            with contextlib.suppress(RedisError):
                self._forget_stale_keys()

    def _forget_stale_keys(self) -> None:
        """Delete the keys whose writes were lost, before anything else reads them."""
        health = self._health
        if not health.stale_keys:
            return
        with health.lock:
            keys = list(health.stale_keys)
        if not keys:
            return
        # Outside the lock: a slow Redis must not hold up the threads that only remember keys.
        # Raises while Redis is still unreachable: the keys stay for the next attempt. The raw
        # keys, already prefixed and versioned: RedisCache's client, not its API.
        self._cache.delete_many(keys)  # type: ignore[attr-defined]
        with health.lock:
            # A key remembered again meanwhile failed to reach Redis, so wrote nothing there:
            # the delete just made covers it.
            for key in keys:
                health.stale_keys.pop(key, None)
        logger.info(
            "Redis cache reachable again; dropped %d key(s) written while it was not", len(keys)
        )

    def _key(self, key, version) -> str:
        return self.make_and_validate_key(key, version=version)

    # -- reads: a miss ------------------------------------------------------------------------

    def get(self, key, default=None, version=None):
        return self._call(
            default, lambda: super(ResilientRedisCache, self).get(key, default, version)
        )

    def get_many(self, keys, version=None):
        return self._call({}, lambda: super(ResilientRedisCache, self).get_many(keys, version))

    def has_key(self, key, version=None):
        return self._call(False, lambda: super(ResilientRedisCache, self).has_key(key, version))

    # -- writes: a no-op, remembered ------------------------------------------------------------

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._call(
            None,
            lambda: super(ResilientRedisCache, self).set(key, value, timeout, version),
            stale=[self._key(key, version)],
        )

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        # False ("not stored"): a caller using add as a lock must not think it holds one.
        return self._call(
            False,
            lambda: super(ResilientRedisCache, self).add(key, value, timeout, version),
            stale=[self._key(key, version)],
        )

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # The keys that failed, as Django's set_many reports them: all of them.
        return self._call(
            list(data),
            lambda: super(ResilientRedisCache, self).set_many(data, timeout, version),
            stale=[self._key(key, version) for key in data],
        )

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(
            False, lambda: super(ResilientRedisCache, self).touch(key, timeout, version)
        )

    def delete(self, key, version=None):
        return self._call(
            False,
            lambda: super(ResilientRedisCache, self).delete(key, version),
            stale=[self._key(key, version)],
        )

    def delete_many(self, keys, version=None):
        keys = list(keys)
        self._call(
            None,
            lambda: super(ResilientRedisCache, self).delete_many(keys, version),
            stale=[self._key(key, version) for key in keys],
        )

    def incr(self, key, delta=1, version=None):
        missing = object()
        result: Any = self._call(
            missing, lambda: super(ResilientRedisCache, self).incr(key, delta, version)
        )
        if result is missing:
            # What Django's incr says of a key that is not there, which is what we can tell.
            raise ValueError(f"Key '{key}' not found (the cache is unreachable).")
        return result

    def clear(self):
        return self._call(False, lambda: super(ResilientRedisCache, self).clear())
