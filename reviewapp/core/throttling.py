"""Login throttling on top of django-axes: one limit per account, another per address.

Axes counts failures per lockout parameter but compares them all with one AXES_FAILURE_LIMIT; we
want a small limit for an account (guessing one person's password) and a larger one for an address
(an office behind one NAT address has many people mistyping). The handler below keeps axes'
database storage (no Redis involved, so an outage of Redis never stops anyone logging in) and
decides "locked" with both limits. The lockout page says what happened and until when.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone


def forwarded_client(remote_addr: str | None, forwarded_for: str, proxies: int) -> str | None:
    """The client's address: REMOTE_ADDR, or the entry `proxies` from the right of X-Forwarded-For.

    Each trusted proxy appends the address it received the request from, so with N proxies in
    front of us the N-th entry from the right was written by our outermost proxy; anything to its
    left was sent by the client and can be forged. A junk entry falls back to REMOTE_ADDR.
    """
    if proxies <= 0:
        return remote_addr
    entries = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    if len(entries) < proxies:
        return remote_addr
    candidate = entries[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote_addr


def client_ip(request) -> str | None:
    """The address login throttling and API throttles count against (AXES_CLIENT_IP_CALLABLE)."""
    return forwarded_client(
        request.META.get("REMOTE_ADDR"),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        settings.TRUSTED_PROXY_COUNT,
    )


def login_username(request, credentials: dict | None = None) -> str:
    """The account a login attempt is counted against (AXES_USERNAME_CALLABLE).

    The login form takes a username or an email address, and allauth passes on whichever was
    typed; both name the same account, so both are counted as its username, or an attempt could
    double its guesses by alternating. A name that matches no account is counted as typed.
    """
    credentials = credentials or {}
    typed = (
        credentials.get("username")
        or credentials.get("email")
        or request.POST.get("login")
        or request.POST.get("username")
        or ""
    ).strip()
    if not typed:
        return ""
    match = (
        get_user_model()
        .objects.filter(Q(username__iexact=typed) | Q(email__iexact=typed))
        .values_list("username", flat=True)[:2]
    )
    found = list(match)
    return found[0] if len(found) == 1 else typed.lower()


def lock_end(
    attempts: Iterable[tuple[datetime, int]], limit: int, cool_off: timedelta
) -> datetime | None:
    """When failures stop reaching `limit`, given (latest failure time, failures) per attempt row.

    Axes forgets an attempt row `cool_off` after its latest failure, so walking the rows from the
    newest, the row at which the count reaches the limit is the one whose expiry lifts the lock.
    """
    total = 0
    for when, failures in sorted(attempts, key=lambda row: row[0], reverse=True):
        total += failures
        if total >= limit:
            return when + cool_off
    return None


@dataclass(frozen=True)
class Lockout:
    until: datetime
    account: bool  # too many failures for the account tried
    address: bool  # too many failures from the client's address


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler, locking an account and an address at their own limits."""

    def lockout_get(self, request, credentials: dict | None = None) -> Lockout | None:
        """The lock this login attempt is under, or None if it may go ahead."""
        AxesProxyHandler.update_request(request)
        threshold = get_cool_off_threshold(request)
        cool_off = get_cool_off(request)
        recent = AccessAttempt.objects.filter(attempt_time__gte=threshold)
        username = get_client_username(request, credentials)
        ends = {}
        checks = [("address", {"ip_address": request.axes_ip_address}, "ADDRESS")]
        if username:
            checks.insert(0, ("account", {"username": username}, "ACCOUNT"))
        for key, lookup, limit_name in checks:
            rows = recent.filter(**lookup).values_list("attempt_time", "failures_since_start")
            end = lock_end(rows, getattr(settings, f"LOGIN_FAILURES_PER_{limit_name}"), cool_off)
            if end is not None:
                ends[key] = end
        if not ends:
            return None
        return Lockout(
            until=max(ends.values()), account="account" in ends, address="address" in ends
        )

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        if not getattr(settings, "AXES_LOCK_OUT_AT_FAILURE", True):
            return False
        return self.lockout_get(request, credentials) is not None

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        # Axes locked only if the larger of the two counts reached AXES_FAILURE_LIMIT (the larger
        # limit); this failure may have brought the account to its own, smaller limit.
        if request is None or getattr(request, "axes_locked_out", False):
            return
        if self.is_whitelisted(request, credentials) or not self.is_locked(request, credentials):
            return
        request.axes_locked_out = True
        request.axes_credentials = credentials
        user_locked_out.send(
            "axes",
            request=request,
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        )

    def user_logged_in(self, sender, request, user, **kwargs):
        super().user_logged_in(sender, request, user, **kwargs)
        # The account's earlier typos are forgiven once its owner gets in; the address keeps its
        # count, so logging in to one's own account cannot wipe failures against other accounts.
        AccessAttempt.objects.filter(username=user.get_username()).delete()


def lockout_response(request, original_response=None, credentials=None):
    """The login page (ours, for the admin too) saying why logging in is paused and until when."""
    handler = AxesProxyHandler.get_implementation()
    now = timezone.now()
    lockout = None
    if isinstance(handler, LoginThrottleHandler):
        lockout = handler.lockout_get(request, credentials)
    until = lockout.until if lockout else now + (get_cool_off(request) or timedelta(0))
    seconds = max(1, math.ceil((until - now).total_seconds()))
    username = get_client_username(request, credentials) or ""
    from reviewapp.accounts.forms import LoginForm

    context = {
        "form": LoginForm(request=request, initial={"login": username}),
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "lockout": {
            "until": until,
            "minutes": math.ceil(seconds / 60),
            "account": lockout.account if lockout else True,
            "address": lockout.address if lockout else False,
            "username": username,
        },
    }
    response = render(request, "account/login.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
