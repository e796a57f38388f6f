"""Helpers shared by the screening views."""

from __future__ import annotations

import uuid

from django.http import Http404

from reviewapp.screening.constants import Stage


def stage_or_404(stage: str) -> str:
    if stage not in Stage.values:
        raise Http404("No such screening stage.")
    return stage


def token_from(request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.POST.get("client_token", ""))
    except ValueError:
        return None


def reason_ids_from(request) -> list[int]:
    try:
        return [int(v) for v in request.POST.getlist("reasons")]
    except ValueError:
        return [-1]  # makes the service name the bad reason
