"""A rate limiter shared by every process through Redis: one slot at a time, per service.

Each caller atomically takes the next free slot (a Lua script using the Redis server's clock, so
workers on different machines agree) and sleeps until it. NCBI and Unpaywall count requests per
API key or per IP address, not per process, so a per-process limiter would let N workers send N
times the allowed rate.
"""

from __future__ import annotations

import redis

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, nxt)
local nxt_slot = slot + tonumber(ARGV[1])
-- The key outlives the last reserved slot by a minute, then disappears by itself.
redis.call('SET', KEYS[1], string.format('%d', nxt_slot), 'PX', math.floor((nxt_slot - now) / 1000) + 60000)
return slot - now
"""


class RedisRateLimiter:
    """Spaces requests ``interval`` seconds apart across all processes sharing ``key``."""

    def __init__(self, client: redis.Redis, key: str, interval: float):
        if interval < 0:
            raise ValueError(f"interval must be >= 0, not {interval}")
        self.key = key
        self.interval = interval
        self._script = client.register_script(_RESERVE)

    def reserve(self) -> float:
        """Claim the next slot; return the seconds to wait before sending."""
        waited = self._script(keys=[self.key], args=[int(self.interval * 1_000_000)])
        return max(0, int(waited)) / 1_000_000
