"""Conflicts (and the maybe queue of single screening) and their resolution, in one workspace:
a page of conflicts listed on one side, one of them in full on the other, resolved by keyboard
and followed by the next one without a reload (static/js/conflicts.js).
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from reviewapp.core.errors import ServiceError
from reviewapp.core.htmx import is_htmx
from reviewapp.core.permissions import review_view
from reviewapp.literature.models import Record
from reviewapp.reviews.constants import Capability
from reviewapp.screening import services
from reviewapp.screening.constants import Stage
from reviewapp.screening.selectors import (
    conflict_focus,
    conflict_next_id,
    conflict_resolver,
    conflicts_list,
    reasons_active,
    resolutions_recent,
    stage_counts,
    stage_settings_get,
)
from reviewapp.screening.views.common import reason_ids_from, stage_or_404, token_from

# Conflicts listed per page; the next page starts after the last record shown.
CONFLICTS_PAGE = 100


def _after_from(request) -> int:
    try:
        return max(0, int(request.GET.get("after", "0")))
    except ValueError:
        return 0


def _focus_context(review, stage, membership, settings, record_id: int | None) -> dict:
    """What the focused conflict's partial needs (focus None: no conflict to show)."""
    focus = None
    can_resolve = membership.can(Capability.ADJUDICATE)
    if record_id is not None:
        focus = conflict_focus(review, stage, record_id, membership, settings)
    return {
        "review": review,
        "membership": membership,
        "stage": stage,
        "settings": settings,
        "focus": focus,
        "can_resolve": can_resolve,
        "reasons": reasons_active(review) if focus is not None and can_resolve else [],
        # A fresh token per form shown, so a resent resolution is stored once.
        "client_token": uuid.uuid4(),
    }


def _workspace(request, stage, *, review, membership, record_id: int | None, status=200):
    settings = stage_settings_get(review, stage)
    after = _after_from(request)
    rows = conflicts_list(review, stage, membership, after=after, limit=CONFLICTS_PAGE + 1)
    if (
        record_id is not None
        and "after" not in request.GET
        and len(rows) > CONFLICTS_PAGE
        and record_id > rows[CONFLICTS_PAGE - 1].record.pk
    ):
        # A conflict beyond the first page (a link, or a reload after moving on): the list
        # starts at it, so it is marked there.
        after = record_id - 1
        rows = conflicts_list(review, stage, membership, after=after, limit=CONFLICTS_PAGE + 1)
    more = len(rows) > CONFLICTS_PAGE
    rows = rows[:CONFLICTS_PAGE]
    if record_id is None and rows:
        record_id = rows[0].record.pk
    context = _focus_context(review, stage, membership, settings, record_id)
    context.update(
        {
            "stage_label": Stage(stage).label,
            "rows": rows,
            "after": after,
            "next_after": rows[-1].record.pk if more else None,
            "resolved": resolutions_recent(review, stage),
            "counts": stage_counts(review, stage),
            "asked_id": record_id,
        }
    )
    return render(request, "screening/conflict_list.html", context, status=status)


@review_view(Capability.VIEW)
@require_GET
def conflict_list(request, stage: str, *, review, membership):
    """Records the reviewers disagree on (or marked maybe), a page at a time, the first of them
    shown in full; votes shown only where allowed."""
    stage = stage_or_404(stage)
    return _workspace(request, stage, review=review, membership=membership, record_id=None)


@review_view(Capability.VIEW)
@require_GET
def conflict_detail(request, stage: str, record_id: int, *, review, membership):
    """One conflict in full: the whole workspace, or only the focused conflict for htmx."""
    stage = stage_or_404(stage)
    # Back to a page htmx no longer holds in its history cache: it asks for the whole page.
    restoring = request.headers.get("HX-History-Restore-Request") == "true"
    if not is_htmx(request) or restoring:
        return _workspace(request, stage, review=review, membership=membership, record_id=record_id)
    settings = stage_settings_get(review, stage)
    context = _focus_context(review, stage, membership, settings, record_id)
    context["asked_id"] = record_id
    return render(request, "screening/partials/_conflict_focus.html", context)


@review_view(Capability.ADJUDICATE)
@require_POST
def conflict_resolve(request, stage: str, record_id: int, *, review, membership):
    """Settle one conflict through services.conflict_resolve (an adjudication event).

    From the workspace (htmx): the next conflict in the answer, the resolved one taken off the
    list; a refusal answers 409 (someone settled it meanwhile) or 422 (a rule of the stage) with
    the message, shown beside the buttons. Without JavaScript: back to the list with a message.
    """
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
        if not is_htmx(request):
            messages.error(request, f"Record {record.number}: {exc.message}")
            return redirect("screening:conflict-list", review.slug, stage)
        return _refusal(request, review, stage, record, exc)
    if not is_htmx(request):
        messages.success(
            request, f"Record {record.number} resolved: {decision.get_value_display().lower()}."
        )
        return redirect("screening:conflict-list", review.slug, stage)
    settings = stage_settings_get(review, stage)
    next_id = conflict_next_id(review, stage, after=record.pk)
    context = _focus_context(review, stage, membership, settings, next_id)
    context.update(
        {
            "asked_id": next_id,
            "resolved_now": decision,
            "resolved_record": record,
            "counts": stage_counts(review, stage),
            "oob": True,
        }
    )
    response = render(request, "screening/partials/_conflict_focus.html", context)
    url = reverse("screening:conflict-list", args=[review.slug, stage])
    if next_id is not None:
        url = reverse("screening:conflict-detail", args=[review.slug, stage, next_id])
    response["HX-Push-Url"] = url
    return response


def _refusal(request, review, stage, record, exc: ServiceError) -> HttpResponse:
    """The refusal's message for the space beside the buttons. 409 when the record is no longer
    in conflict (resolved by someone else, or settled by a reviewer's change of mind), naming who
    resolved it; 422 for a rule of the stage (a reason missing, a bad value)."""
    gone = exc.field == "record"
    resolver = conflict_resolver(review, stage, record.pk) if gone else None
    return render(
        request,
        "screening/partials/_conflict_refusal.html",
        {
            "review": review,
            "stage": stage,
            "record": record,
            "message": exc.message,
            "gone": gone,
            "resolver": resolver,
            "next_id": conflict_next_id(review, stage, after=record.pk) if gone else None,
        },
        status=409 if gone else 422,
    )
