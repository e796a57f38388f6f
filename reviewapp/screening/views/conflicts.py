"""Conflicts (and the maybe queue of single screening) and their resolution."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import review_view
from reviewapp.literature.models import Record
from reviewapp.reviews.constants import Capability
from reviewapp.screening import services
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import ExclusionReason
from reviewapp.screening.selectors import (
    conflicts_list,
    resolutions_recent,
    stage_counts,
    stage_settings_get,
)
from reviewapp.screening.views.common import reason_ids_from, stage_or_404, token_from

# Conflicts listed per page; the next page starts after the last record shown.
CONFLICTS_PAGE = 100


@review_view(Capability.VIEW)
@require_GET
def conflict_list(request, stage: str, *, review, membership):
    """Records the reviewers disagree on (or marked maybe); votes shown only where allowed."""
    stage = stage_or_404(stage)
    can_resolve = membership.can(Capability.ADJUDICATE)
    try:
        after = max(0, int(request.GET.get("after", "0")))
    except ValueError:
        after = 0
    rows = conflicts_list(review, stage, membership, after=after, limit=CONFLICTS_PAGE + 1)
    more = len(rows) > CONFLICTS_PAGE
    rows = rows[:CONFLICTS_PAGE]
    return render(
        request,
        "screening/conflict_list.html",
        {
            "review": review,
            "membership": membership,
            "stage": stage,
            "stage_label": Stage(stage).label,
            "settings": stage_settings_get(review, stage),
            "rows": rows,
            "after": after,
            "next_after": rows[-1].record.pk if more else None,
            "resolved": resolutions_recent(review, stage),
            "counts": stage_counts(review, stage),
            "can_resolve": can_resolve,
            "reasons": list(ExclusionReason.objects.filter(review=review, active=True)),
        },
    )


@review_view(Capability.ADJUDICATE)
@require_POST
def conflict_resolve(request, stage: str, record_id: int, *, review, membership):
    stage = stage_or_404(stage)
    record = get_object_or_404(Record, pk=record_id, review=review)
    try:
        decision = services.conflict_resolve(
            membership=membership,
            record=record,
            stage=stage,
            value=request.POST.get("value", ""),
            reason_ids=reason_ids_from(request),
            note=request.POST.get("note", ""),
            client_token=token_from(request),
        )
    except ServiceError as exc:
        messages.error(request, f"Record {record.pk}: {exc.message}")
    else:
        messages.success(
            request, f"Record {record.pk} resolved: {decision.get_value_display().lower()}."
        )
    return redirect("screening:conflict-list", review.slug, stage)
