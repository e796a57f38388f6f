"""The screening page: one record at a time, the next one prefetched, decisions by keyboard."""

from __future__ import annotations

import uuid

from django.conf import settings as django_settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from reviewapp.core.compiled import RawStatement
from reviewapp.core.errors import ServiceError
from reviewapp.core.htmx import is_htmx, render_page_or_partial
from reviewapp.core.permissions import review_view
from reviewapp.literature.models import Record
from reviewapp.reviews.constants import Capability
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import StageSettings
from reviewapp.screening.queue import (
    LEASE,
    lease_release,
    lease_renew,
    leases_held_by_others,
    queue_next,
)
from reviewapp.screening.selectors import (
    my_next_record_id,
    my_previous_record_id,
    my_progress,
    my_remaining,
    reasons_active,
    record_eligible,
    record_panels,
    stage_counts_recent,
    stage_settings_get,
    studies_for_linking,
)
from reviewapp.screening.services import DecisionRefused, decision_record, decision_undo
from reviewapp.screening.views.common import reason_ids_from, stage_or_404, token_from

PAGE = "screening/screen.html"
PARTIAL = "screening/partials/_screen_record.html"
# Sent by static/js/screening.js with a decision: the record it put on screen in the meantime.
SHOWN_HEADER = "X-Screen-Showing"
# The full-text panel's actions (views/fulltext.py): an error names the form it belongs to.
REPORT_ACTIONS = ("upload", "link", "status", "study")
# How long a page may say goodbye: the lease it could give back lasts no longer.
PAGE_ID_TTL = int(LEASE.total_seconds()) + 60


def screen_context(
    request,
    review,
    membership,
    stage: str,
    *,
    revisit: int | None = None,
    first: int | None = None,
    error: str = "",
    error_field: str = "",
    with_counts: bool = False,
    shown: str | None = None,
    settings: StageSettings | None = None,
) -> dict:
    """The screening area: the current record and the next one, filtered for blinding.

    revisit: show a record this reviewer already decided (previous/next through their history).
    first: put this record first, then the queue (used after an undo or a refused decision).
    shown: the record the browser already shows (it swapped the prefetched one in); when it is
    the current record again, only its id and a fresh token are sent, not the record a second time.
    settings: the stage's settings, when the view has read them already.
    """
    settings = settings or stage_settings_get(review, stage)
    user = membership.user
    if revisit is not None:
        ids = [revisit]
    else:
        ids = queue_next(review, stage, user, limit=2, settings=settings)
        if first is not None:
            ids = [first] + [i for i in ids if i != first][:1]
            # A record pushed off the screen (an undo brings its record back first) goes back
            # to the queue rather than staying leased, unseen, until the lease ends.
            lease_release(review, stage, user, keep=ids)
    # The record the browser shows already needs no panel: its id and a fresh token will do.
    current_shown = None
    if ids and shown and revisit is None and shown == str(ids[0]):
        current_shown = {"id": ids[0], "client_token": uuid.uuid4()}
    panels = record_panels(review, stage, ids[1:] if current_shown else ids, membership, settings)
    for panel in panels:
        panel.client_token = uuid.uuid4()
    if current_shown:
        current, upcoming = None, panels[0] if panels else None
    else:
        current = panels[0] if panels else None
        upcoming = panels[1] if len(panels) > 1 else None
    my_count, last_decided = my_progress(review, stage, user)
    if revisit is not None:
        previous_id = my_previous_record_id(review, stage, user, before=revisit)
        next_id = my_next_record_id(review, stage, user, after=revisit)
    else:
        previous_id, next_id = last_decided, None
    held = None
    if ids == [] and revisit is None:
        # "Nothing left" only when nothing is: records another reviewer has open are said so.
        held = leases_held_by_others(review, stage, user)
    return {
        "review": review,
        "membership": membership,
        "stage": stage,
        "stage_label": Stage(stage).label,
        "settings": settings,
        "current": current,
        "current_shown": current_shown,
        "upcoming": upcoming,
        "revisit": revisit is not None,
        "previous_id": previous_id,
        "next_id": next_id,
        "reasons": reasons_active(review),
        "studies": studies_for_linking(review) if stage == Stage.FULL_TEXT else [],
        "my_count": my_count,
        # A page load counts afresh, so the reviewer's own numbers (read now) agree with it.
        "counts": stage_counts_recent(review, stage, fresh=True) if with_counts else None,
        "can_adjudicate": membership.can(Capability.ADJUDICATE),
        "error": error,
        "error_field": error_field,
        "held": held,
        # The page keeps the record it shows leased while it is in view (screen_renew).
        "lease_renew_seconds": int(LEASE.total_seconds() // 3),
        "report_actions": REPORT_ACTIONS,
        "max_upload_bytes": django_settings.FULLTEXT_MAX_BYTES,
    }


_RECORD_BRIEF = RawStatement(
    Record,
    f"SELECT id, review_id, number FROM {Record._meta.db_table} WHERE id = %s AND review_id = %s",
)


def _record_brief_or_404(review, record_id: int) -> Record:
    """The review's record with only its id, review and number (what deciding on it or renewing
    its lease needs), or Http404. Plain SQL: read on every decision, where the queryset's
    building took more Python time than PostgreSQL took to answer."""
    found = _RECORD_BRIEF.fetch([record_id, review.pk])
    if not found:
        raise Http404("No such record in this review.")
    return found[0]


def record_label(record) -> str:
    """How a record is named to people: its number in the review (its id until it has one)."""
    return str(getattr(record, "number", None) or record.pk)


def _page_key(review, stage: str, user) -> str:
    return f"screening:page:{review.pk}:{stage}:{user.pk}"


def _render(request, context, status=200):
    return render_page_or_partial(request, PAGE, PARTIAL, context, status=status)


@review_view(Capability.SCREEN)
@require_GET
def screen(request, stage: str, *, review, membership):
    """One record at a time with the next one prefetched; ?record=<id> revisits a decided one."""
    stage = stage_or_404(stage)
    revisit = None
    error = ""
    if request.GET.get("record"):
        try:
            record_id = int(request.GET["record"])
        except ValueError:
            record_id = -1
        record = Record.objects.filter(pk=record_id, review=review).first()
        if record is None:
            error = f"There is no record {request.GET['record']} in this review."
        elif not record_eligible(review, record.pk, stage):
            error = (
                f"Record {record.number} is not screened at the {Stage(stage).label.lower()} stage."
            )
        else:
            revisit = record.pk
    context = screen_context(
        request,
        review,
        membership,
        stage,
        revisit=revisit,
        error=error,
        with_counts=not is_htmx(request),
    )
    if not is_htmx(request):
        # The newest page of this reviewer at this stage: only it may give its records back
        # when it is left (a reload's new page is rendered before the old one says goodbye).
        context["page_id"] = uuid.uuid4().hex
        cache.set(_page_key(review, stage, membership.user), context["page_id"], PAGE_ID_TTL)
        context["my_remaining"] = my_remaining(review, stage, membership.user, context["counts"])
    return _render(request, context)


LEASE_LOST = {
    "taken": (
        "Record {n} was open on your screen longer than {minutes} minutes, and another reviewer "
        "has been given it since. You can still decide it; if it needs no more votes by the time "
        "you do, you will be told."
    ),
    "decided": (
        "Record {n} was decided by others while it was on your screen; it takes no vote from you "
        "now. Go on to the next record."
    ),
    "gone": "Record {n} is no longer screened at this stage. Go on to the next record.",
}


@review_view(Capability.SCREEN)
@require_POST
def screen_renew(request, stage: str, record_id: int, *, review, membership):
    """The page still shows this record (screening.js asks every few minutes while it is in
    view): keep it leased. 409 with the reason when the lease was lost."""
    stage = stage_or_404(stage)
    record = _record_brief_or_404(review, record_id)
    lost = lease_renew(review, stage, membership.user, record.pk)
    if not lost:
        return HttpResponse(status=204)
    message = LEASE_LOST[lost].format(
        n=record_label(record), minutes=int(LEASE.total_seconds() // 60)
    )
    return HttpResponse(message, status=409, content_type="text/plain; charset=utf-8")


@review_view(Capability.SCREEN)
@require_POST
def screen_release(request, stage: str, *, review, membership):
    """The page is being left (navigator.sendBeacon): give back the records leased to it, so
    co-reviewers are not kept waiting for LEASE. A page superseded by a newer one (a reload,
    a second tab) releases nothing: the newer page shows those records."""
    stage = stage_or_404(stage)
    key = _page_key(review, stage, membership.user)
    page_id = request.POST.get("page_id", "")
    released = 0
    if page_id and cache.get(key) == page_id:
        released = lease_release(review, stage, membership.user)
        cache.delete(key)
    return HttpResponse(status=204, headers={"X-Released": str(released)})


@review_view(Capability.SCREEN)
@require_GET
def screen_progress(request, stage: str, *, review, membership):
    """Team progress (the page polls it; counting is kept out of the per-decision path)."""
    stage = stage_or_404(stage)
    settings = stage_settings_get(review, stage)
    # fresh=1: asked by the page right after the reviewer's own decision (screening.js).
    counts = stage_counts_recent(review, stage, fresh=request.GET.get("fresh") == "1")
    return render_page_or_partial(
        request,
        "screening/partials/_screen_progress.html",
        "screening/partials/_screen_progress.html",
        {
            "review": review,
            "stage": stage,
            "settings": settings,
            "counts": counts,
            "my_count": my_progress(review, stage, membership.user)[0],
            "my_remaining": my_remaining(review, stage, membership.user, counts),
        },
    )


@review_view(Capability.SCREEN)
@require_POST
def screen_decide(request, stage: str, record_id: int, *, review, membership):
    stage = stage_or_404(stage)
    # Only its id and review are needed to decide; the answer renders other records.
    record = _record_brief_or_404(review, record_id)
    settings = stage_settings_get(review, stage)
    try:
        decision_record(
            membership=membership,
            record=record,
            stage=stage,
            value=request.POST.get("value", ""),
            reason_ids=reason_ids_from(request),
            note=request.POST.get("note", ""),
            client_token=token_from(request),
            settings=settings,
        )
    except ServiceError as exc:
        # A record that cannot take this vote at all (it has its votes, or is settled) is not
        # offered again: the message says why and the queue moves on. Other refusals (a missing
        # reason) bring the same record back to be corrected.
        refused = isinstance(exc, DecisionRefused)
        if is_htmx(request):
            context = screen_context(
                request,
                review,
                membership,
                stage,
                first=None if refused else record.pk,
                error=exc.message,
                error_field=exc.field or "",
                settings=settings,
            )
            return _render(request, context, status=422)
        messages.error(request, exc.message)
        url = reverse("screening:screen", args=[review.slug, stage])
        return redirect(url if refused else f"{url}?record={record.pk}")
    if is_htmx(request):
        shown = request.headers.get(SHOWN_HEADER)
        context = screen_context(request, review, membership, stage, shown=shown, settings=settings)
        return _render(request, context)
    return redirect("screening:screen", review.slug, stage)


@review_view(Capability.SCREEN)
@require_POST
def screen_undo(request, stage: str, *, review, membership):
    """Undo my latest standing vote at this stage (a new event); show that record again."""
    stage = stage_or_404(stage)
    try:
        undone = decision_undo(membership=membership, stage=stage, client_token=token_from(request))
    except ServiceError as exc:
        undone, message = None, exc.message
    else:
        message = "" if undone else "Nothing to undo: you have no decision standing at this stage."
    if is_htmx(request):
        context = screen_context(
            request,
            review,
            membership,
            stage,
            first=undone.record_id if undone else None,
            error=message,
        )
        if undone:
            context["notice"] = f"Your decision on record {undone.record.number} was undone."
        return _render(request, context)
    if message:
        messages.error(request, message)
    else:
        if undone is None:
            # No message means decision_undo returned the decision it undid.
            raise AssertionError("undo without a message or a decision")
        messages.success(request, f"Your decision on record {undone.record.number} was undone.")
    return redirect("screening:screen", review.slug, stage)
