"""Writes for the API: each user's token (``Authorization: Token <key>``)."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token


@transaction.atomic
def api_token_replace(*, user) -> Token:
    """Give the user a new API token; the one they had, if any, stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def api_token_revoke(*, user) -> bool:
    """Delete the user's API token; returns whether they had one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted > 0
