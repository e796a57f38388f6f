"""API request rates: per user when authenticated, per client address otherwise.

DRF's own classes read their rates once, at import, and count addresses with their own idea of
X-Forwarded-For. These read the rates when asked (so settings and tests can change them) and take
the client address from the same function as login throttling. When the cache cannot be reached,
requests are let through rather than failed: a throttle protects the service, it must not be the
thing that takes it down.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from reviewapp.core.throttling import client_ip

logger = logging.getLogger(__name__)


class _RateFromSettings:
    scope: str

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_ip(request) or "unknown"

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("API throttle skipped, the cache is unreachable: %s", exc)
            return True


class UserThrottle(_RateFromSettings, UserRateThrottle):
    scope = "user"


class AnonThrottle(_RateFromSettings, AnonRateThrottle):
    scope = "anon"
