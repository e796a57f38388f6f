"""Living reviews: stored searches that re-run by themselves, and the versions their updates make.

An owner sets a stored search to re-run daily, weekly or monthly. Beat calls `living_due_queue`
(every 15 minutes): each search whose period has passed since its last good run gets one new run,
queued, which asks PubMed only for records *entered* (edat) since the day of that last run and
adds only PMIDs the review does not hold yet. The run is an ordinary Search job (claim, heartbeat,
retries after a passing failure, `search_failures` sentences), so a failure is retried and shown
on the search's page, and its one transaction either lands the new records, the version and its
PRISMA "previous" boxes together or lands nothing.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.audit.services import audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.jobs import job_enqueue
from reviewapp.core.permissions import require
from reviewapp.literature.constants import JobStatus, LivingSchedule
from reviewapp.literature.models import LivingVersion, Record, Search
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership, Review

logger = logging.getLogger(__name__)


def _period_after(moment: datetime, schedule: str) -> datetime:
    """``moment`` plus one period; a month later is the same day of the next month (its last
    day when it has fewer)."""
    if schedule == LivingSchedule.DAILY:
        return moment + timedelta(days=1)
    if schedule == LivingSchedule.WEEKLY:
        return moment + timedelta(weeks=1)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


# Beat runs the due check this often; a search is due within this much of its period.
DUE_CHECK_MINUTES = 15


def living_root(search: Search) -> Search:
    """The first search of a lineage: the one whose schedule counts."""
    return search.rerun_of if search.rerun_of is not None else search


def _lineage(root: Search) -> Q:
    return Q(pk=root.pk) | Q(rerun_of_id=root.pk)


def living_last_success(root: Search) -> datetime | None:
    """When the last run of this stored search that finished well queried PubMed."""
    return Search.objects.filter(_lineage(root), status=JobStatus.DONE).aggregate(
        last=Max("run_at")
    )["last"]


def living_next_run(root: Search, *, last: datetime | None = None) -> datetime | None:
    """When the schedule next runs the search (None: off, or it never ran well)."""
    if root.schedule == LivingSchedule.OFF:
        return None
    last = last or living_last_success(root)
    if last is None:
        return None
    return _period_after(last, root.schedule)


def search_schedule_set(*, membership: Membership, search: Search, schedule: str) -> Search:
    """Set how often a stored search re-runs by itself; audited. Only owners and admins."""
    require(membership, Capability.MANAGE_REVIEW)
    if search.review_id != membership.review_id:
        raise ServiceError("That search belongs to another review.")
    if schedule not in LivingSchedule.values:
        raise ServiceError(
            f"'{schedule}' is not a schedule; choose off, daily, weekly or monthly.",
            field="schedule",
        )
    root = living_root(search)
    with transaction.atomic():
        root = Search.objects.select_for_update().get(pk=root.pk)
        if root.schedule == schedule:
            return root
        audit_record(
            review=membership.review,
            actor=membership,
            action=Action.SEARCH_SCHEDULE_CHANGED,
            target=root,
            before={"schedule": root.schedule},
            after={"schedule": schedule},
        )
        root.schedule = schedule
        root.save(update_fields=["schedule", "updated_at"])
    return root


def _living_run_create(root: Search, since: datetime) -> Search:
    # The first run's publication-date limits stay part of the query: PubMed takes one kind of
    # date per request, and this one limits by entry date.
    query = root.query
    if root.mindate or root.maxdate:
        lo, hi = root.mindate or "1700", root.maxdate or "3000"
        query = f"({query}) AND ({lo}:{hi}[dp])"
    return Search.objects.create(
        review_id=root.review_id,
        source_database=root.source_database,
        source_kind=root.source_kind,
        query=query,
        # From the day before the last good run: PubMed dates entries in US Eastern time, so a
        # day of margin misses nothing entered around it; the PMIDs that run already brought
        # are recognised and not added again. No maxdate: the client fills in the latest date
        # when the run actually queries PubMed (which may be a retry, hours later).
        mindate=(since.astimezone(UTC).date() - timedelta(days=1)).strftime("%Y/%m/%d"),
        datetype="edat",
        rerun_of=root,
        scheduled=True,
    )


def living_due_queue(*, now: datetime | None = None) -> list[int]:
    """Queue one run of every stored search whose schedule is due; returns the runs' ids.

    Idempotent: each due search is taken under a row lock (others skip it), one that already
    has a scheduled run queued or running is left alone, and a unique constraint refuses a
    second pending scheduled run outright; so two beats, or a beat and its retry, queue one run.
    """
    now = now or timezone.now()
    slack = timedelta(minutes=DUE_CHECK_MINUTES) / 2
    queued: list[int] = []
    roots = Search.objects.filter(rerun_of__isnull=True).exclude(schedule=LivingSchedule.OFF)
    for root_id in roots.values_list("pk", flat=True).order_by("pk"):
        with transaction.atomic():
            root = Search.objects.select_for_update(skip_locked=True).filter(pk=root_id).first()
            if root is None or root.schedule == LivingSchedule.OFF:
                continue
            pending = Search.objects.filter(
                rerun_of=root, scheduled=True, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
            )
            if pending.exists():
                continue
            last = living_last_success(root)
            due_at = living_next_run(root, last=last)
            if last is None or due_at is None or due_at > now + slack:
                continue
            try:
                with transaction.atomic():
                    run = _living_run_create(root, last)
            except IntegrityError:
                continue
            job_enqueue(run)
            queued.append(run.pk)
            logger.info("living search %s: queued update %s (since %s)", root.pk, run.pk, last)
    return queued


def living_version_add(*, search: Search, added: int) -> LivingVersion | None:
    """Make the version an update's records form; inside the update's transaction.

    The first update that adds records first makes version 1 of what the review held before.
    The new version holds every record numbered after the previous version (an import between
    two updates counts in the later one). "Previous studies/reports" are the review's PRISMA
    totals now: the records just added are unscreened and include nothing yet, so these are the
    earlier version's totals, hand-entered boxes included. None when the update added nothing.
    """
    if not added:
        return None
    from reviewapp.reporting.selectors import prisma_counts_get

    review = search.review
    top = Record.objects.filter(review=review).aggregate(top=Max("number"))["top"] or 0
    last = LivingVersion.objects.filter(review=review).order_by("-number").first()
    if last is None:
        last = LivingVersion.objects.create(
            review=review, number=1, first_number=1, last_number=top - added
        )
    totals = prisma_counts_get(review)
    return LivingVersion.objects.create(
        review=review,
        number=last.number + 1,
        search=search,
        first_number=last.last_number + 1,
        last_number=top,
        previous_studies=totals.total_studies,
        previous_reports=totals.total_reports,
    )


def living_versions(review: Review) -> list[LivingVersion]:
    """The review's versions, oldest first."""
    return list(
        LivingVersion.objects.filter(review=review).select_related("search").order_by("number")
    )


@dataclass(frozen=True)
class LivingRun:
    """One run of a stored search as the search's page lists it."""

    search: Search
    version: LivingVersion | None


@dataclass(frozen=True)
class LivingSummary:
    root: Search
    last_success: datetime | None
    next_run: datetime | None
    runs: list[LivingRun]


def living_summary(search: Search) -> LivingSummary:
    """The schedule of a search's lineage, its last and next run, and each run with the version
    it made (newest first), for the search's page: three queries."""
    root = living_root(search)
    runs = list(
        Search.objects.filter(_lineage(root))
        .select_related("living_version")
        .defer("provenance")
        .order_by("-created_at", "-pk")
    )
    done = [run.run_at for run in runs if run.status == JobStatus.DONE and run.run_at]
    last = max(done, default=None)
    return LivingSummary(
        root=root,
        last_success=last,
        next_run=living_next_run(root, last=last) if last else None,
        runs=[LivingRun(run, getattr(run, "living_version", None)) for run in runs],
    )
