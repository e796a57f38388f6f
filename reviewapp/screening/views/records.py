"""One record at a stage: its visible history, notes and tags."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from reviewapp.core.errors import ServiceError
from reviewapp.core.htmx import is_htmx
from reviewapp.core.permissions import review_view
from reviewapp.literature.models import Record
from reviewapp.literature.selectors import duplicate_of, merged_from
from reviewapp.reviews.constants import Capability
from reviewapp.screening.constants import Stage
from reviewapp.screening.rules import ALL_VOTES_IN
from reviewapp.screening.selectors import record_history as history_get
from reviewapp.screening.selectors import record_panels, stage_settings_get
from reviewapp.screening.services import note_add, tag_toggle
from reviewapp.screening.views.common import stage_or_404


@review_view(Capability.VIEW)
@require_GET
def record_history(request, stage: str, record_id: int, *, review, membership):
    """The decisions on one record at a stage, as far as this member may see them."""
    stage = stage_or_404(stage)
    record = get_object_or_404(Record, pk=record_id, review=review)
    state, visible, events = history_get(review, stage, record, membership)
    (panel,) = record_panels(
        review, stage, [record.pk], membership, stage_settings_get(review, stage)
    )
    return render(
        request,
        "screening/record_history.html",
        {
            "review": review,
            "membership": membership,
            "stage": stage,
            "stage_label": Stage(stage).label,
            # As the panel read it: a merged cluster's primary with the cluster's merged values.
            "record": panel.record,
            "state": state,
            "votes_visible": visible,
            # Hidden although every vote is in: the member did not vote on it (blinding).
            "all_votes_in": state in ALL_VOTES_IN,
            "events": events,
            "panel": panel,
            "merged_from": merged_from(review, panel.record),
            # A duplicate is not screened: say so, and where its cluster is.
            "duplicate_of": duplicate_of(record),
        },
    )


def _extras(request, review, membership, stage, record, error=""):
    if not is_htmx(request):
        if error:
            messages.error(request, error)
        return redirect(
            reverse("screening:screen", args=[review.slug, stage]) + f"?record={record.pk}"
        )
    (panel,) = record_panels(
        review, stage, [record.pk], membership, stage_settings_get(review, stage)
    )
    return render(
        request,
        "screening/partials/_record_extras.html",
        # Open: the reviewer has just used it.
        {
            "review": review,
            "stage": stage,
            "panel": panel,
            "extras_error": error,
            "extras_open": True,
        },
        status=422 if error else 200,
    )


@review_view(Capability.SCREEN)
@require_POST
def record_note(request, stage: str, record_id: int, *, review, membership):
    stage = stage_or_404(stage)
    record = get_object_or_404(Record, pk=record_id, review=review)
    try:
        note_add(membership=membership, record=record, text=request.POST.get("text", ""))
    except ServiceError as exc:
        return _extras(request, review, membership, stage, record, error=exc.message)
    return _extras(request, review, membership, stage, record)


@review_view(Capability.SCREEN)
@require_POST
def record_tag(request, stage: str, record_id: int, *, review, membership):
    stage = stage_or_404(stage)
    record = get_object_or_404(Record, pk=record_id, review=review)
    try:
        tag_toggle(membership=membership, record=record, name=request.POST.get("tag", ""))
    except ServiceError as exc:
        return _extras(request, review, membership, stage, record, error=exc.message)
    return _extras(request, review, membership, stage, record)
