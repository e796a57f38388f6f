"""Writes on PubMed searches: run a query through the Entrez client and add what it finds.

A search runs in one transaction, so an interrupted run leaves nothing behind and can simply run
again. A living review re-runs a stored search: records an earlier run of the same search already
brought are recognised by PMID and not added twice; the new run is its own Search, counting what
was new.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from io import BytesIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from reviewapp.core.errors import ServiceError
from reviewapp.core.jobs import JobClaim, JobLost, job_claim, job_requeue
from reviewapp.core.permissions import require
from reviewapp.core.progress import progress_write
from reviewapp.integrations.entrez import EntrezError, PubMedClient
from reviewapp.literature.constants import JobStatus, SourceKind
from reviewapp.literature.living import living_version_add
from reviewapp.literature.models import Record, Search
from reviewapp.literature.parsers import FileUnreadable, ParseWarning, Rejection
from reviewapp.literature.parsers.pubmed_xml import parse_pubmed_xml
from reviewapp.literature.search_failures import search_failure_explain, search_failure_message
from reviewapp.literature.services import (
    duplicate_candidates_add,
    duplicate_index_candidates,
    duplicate_index_for,
    records_add_parsed,
    records_added_finish,
    review_records_lock,
)
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership

logger = logging.getLogger(__name__)

DATE_PATTERN = re.compile(r"^\d{4}(/\d{2}(/\d{2})?)?$")
BATCH_SIZE = 500
# A search that failed on something passing (network, DNS, a timeout, HTTP 429/5xx) is tried
# again by its task after these waits, in seconds, the page saying when; then it fails for good.
# Each wait is far below the 6 x JOBS_STALE_AFTER after which jobs_recover would resend a queued
# job, so a waiting search is sent by its own retry, not twice.
SEARCH_RETRY_DELAYS = (60, 5 * 60, 15 * 60)


def pubmed_client(*, max_tries: int | None = None) -> PubMedClient:
    """The Entrez client configured from settings (ENTREZ_EMAIL, ENTREZ_API_KEY, ENTREZ_BASE_URL).

    ``max_tries``: tries per request before the client gives up (its default when None).
    """
    client = PubMedClient(
        email=settings.ENTREZ_EMAIL,
        api_key=settings.ENTREZ_API_KEY or None,
        base_url=settings.ENTREZ_BASE_URL,
    )
    if max_tries is not None:
        client.max_tries = max(1, max_tries)
    return client


def search_retry_delay(retries_done: int) -> int | None:
    """Seconds to wait before the next try of a search that failed on something passing, after
    ``retries_done`` retries; None once they are used up."""
    if retries_done < len(SEARCH_RETRY_DELAYS):
        return SEARCH_RETRY_DELAYS[retries_done]
    return None


def _date_check(value: str, field: str) -> str:
    given = (value or "").strip()
    value = given.replace("-", "/")
    if not value:
        return ""
    parts = [int(p) for p in value.split("/")] if DATE_PATTERN.match(value) else []
    try:
        if not parts:
            raise ValueError
        date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        raise ServiceError(
            f"{field} '{given}' is not a date PubMed understands; use YYYY, YYYY/MM or YYYY/MM/DD.",
            field=field,
        ) from None
    return value


def search_create(
    *,
    membership: Membership,
    query: str,
    mindate: str = "",
    maxdate: str = "",
    rerun_of: Search | None = None,
) -> Search:
    """Store a PubMed search as queued; `search_run` (usually in a task) does the work."""
    require(membership, Capability.MANAGE_REVIEW)
    query = (query or "").strip()
    if not query:
        raise ServiceError("A search needs a query.", field="query")
    if len(query) > 10000:
        raise ServiceError("The query is longer than 10,000 characters.", field="query")
    mindate = _date_check(mindate, "mindate")
    maxdate = _date_check(maxdate, "maxdate")
    if mindate and maxdate and mindate.ljust(10, "/") > maxdate.ljust(10, "~"):
        raise ServiceError(
            f"The start date {mindate} is after the end date {maxdate}.", field="mindate"
        )
    return Search.objects.create(
        review=membership.review,
        source_database="PubMed",
        source_kind=SourceKind.DATABASE,
        query=query,
        mindate=mindate,
        maxdate=maxdate,
        rerun_of=rerun_of,
        created_by=membership.user,
    )


def search_rerun(*, membership: Membership, search: Search) -> Search:
    """Queue a new run of a stored search (a living review's update); dates as first given."""
    if search.review_id != membership.review_id:
        raise ServiceError("That search belongs to another review.")
    root = search.rerun_of or search
    return search_create(
        membership=membership,
        query=root.query,
        mindate=root.mindate,
        maxdate=root.maxdate,
        rerun_of=root,
    )


def search_retry(*, membership: Membership, search: Search) -> Search:
    """Queue a failed search again, or run one waiting for its automatic retry now; it left
    nothing behind, so it starts from the beginning.

    The caller sends it with core.jobs.job_enqueue. (A waiting search's own delayed retry, when
    it comes, finds the search running or finished and does nothing.)
    """
    require(membership, Capability.MANAGE_REVIEW)
    if search.review_id != membership.review_id:
        raise ServiceError("Only a failed search can be run again.")
    waiting = Search.objects.filter(
        pk=search.pk, status=JobStatus.QUEUED, retry_at__isnull=False
    ).update(retry_at=None, note="")
    try:
        with transaction.atomic():
            requeued = waiting or job_requeue(Search, pk=search.pk)
    except IntegrityError:
        # living_one_pending_run: the schedule has queued a newer update of the same search,
        # which asks PubMed for everything this one would have.
        raise ServiceError(
            "A newer scheduled update of this search is already queued; it covers what this "
            "one would have found."
        ) from None
    if not requeued:
        raise ServiceError("Only a failed search can be run again.")
    Search.objects.filter(pk=search.pk).update(retry_at=None, error_detail="")
    search.refresh_from_db()
    return search


def _known_pmids(search: Search) -> set[str]:
    """PMIDs that earlier runs of the same stored search brought into the review."""
    root_id = search.rerun_of_id or search.pk
    lineage = Q(search_id=root_id) | Q(search__rerun_of_id=root_id)
    return set(
        Record.objects.filter(lineage, review_id=search.review_id)
        .exclude(search_id=search.pk)
        .exclude(pmid="")
        .values_list("pmid", flat=True)
    )


def _pmids_in_review(search: Search, items: list) -> set[str]:
    """Which PMIDs of a batch the review already holds, from any search or import."""
    pmids = [item.pmid for item in items if getattr(item, "pmid", "")]
    if not pmids:
        return set()
    return set(
        Record.objects.filter(review_id=search.review_id, pmid__in=pmids).values_list(
            "pmid", flat=True
        )
    )


def search_run(
    *,
    search_id: int,
    client: PubMedClient | None = None,
    progress: Callable[[int, int], None] | None = None,
    retry_in: int | None = None,
    tries: int = 1,
    max_tries: int | None = None,
) -> Search:
    """Run a queued search: plan it (splitting >9,999 hits by date), fetch in batches, add records.

    Nothing of a failed run is kept. A failure waiting could cure (see
    ``search_failures.search_failure_explain``) puts the search back in the queue when
    ``retry_in`` (seconds) is given, with ``retry_at`` and a note saying when it is tried again
    (the caller, its task, sends that retry); any other failure, or one with no ``retry_in``,
    fails the search. Either way the Search keeps a sentence for the reviewer (``note`` or
    ``error``) and the technical text, the batch named (``error_detail``). ``tries``: how many
    times this search has been run, counting this one (for the message); ``max_tries``: tries
    per request inside this run (the client's default when None).
    """
    claim = job_claim(Search, search_id)
    search = Search.objects.select_related("review").get(pk=search_id)
    if claim is None:
        # Finished, running in a live worker, or given up: a redelivery has nothing to do.
        return search
    if search.retry_at is not None or search.error_detail:
        # Outside the run's transaction: the heartbeat writes this row from another connection.
        Search.objects.filter(pk=search.pk).update(retry_at=None, error_detail="")
    _replies_delete(search)
    client = client or pubmed_client(max_tries=max_tries)
    try:
        with claim.heartbeat(), transaction.atomic():
            _search_fetch(search, client, progress, claim)
    except JobLost:
        logger.warning(
            "search %s was taken over by a later attempt; this one wrote nothing", search_id
        )
    except (EntrezError, FileUnreadable) as exc:
        failure = search_failure_explain(exc)
        logger.warning("search %s failed (%s): %s", search.pk, failure.kind, failure.detail)
        if failure.transient and retry_in is not None:
            retry_at = timezone.now() + timedelta(seconds=retry_in)
            _search_wait(
                search,
                claim,
                search_failure_message(failure, retry_at=retry_at),
                failure.detail,
                retry_at,
            )
        else:
            _search_fail(
                search, claim, search_failure_message(failure, tries=tries), failure.detail
            )
    except Exception as exc:
        logger.exception("search %s failed", search.pk)
        failure = search_failure_explain(exc)
        _search_fail(search, claim, search_failure_message(failure), failure.detail)
        raise
    search.refresh_from_db()
    return search


def _replies_delete(search: Search) -> None:
    """Delete replies an earlier attempt stored: it was killed or failed, its records rolled back."""
    folder = f"searches/{search.pk}"
    try:
        _dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")


def _search_fail(search: Search, claim: JobClaim, message: str, detail: str) -> None:
    Search.objects.filter(pk=search.pk, claim_token=claim.token).update(
        status=JobStatus.FAILED,
        error=message,
        error_detail=detail,
        retry_at=None,
        finished_at=timezone.now(),
        count_retrieved=0,
        count_new=0,
    )


def _search_wait(
    search: Search, claim: JobClaim, message: str, detail: str, retry_at: datetime
) -> None:
    """Back in the queue until ``retry_at``. The attempt ended cleanly, so it does not count
    against JOBS_MAX_ATTEMPTS (which is for workers that died); ``sent_at`` is now, as the
    retry's message is already with the broker."""
    now = timezone.now()
    Search.objects.filter(pk=search.pk, claim_token=claim.token).update(
        status=JobStatus.QUEUED,
        claim_token="",
        attempts=0,
        note=message[:500],
        error_detail=detail,
        retry_at=retry_at,
        sent_at=now,
        started_at=None,
        heartbeat_at=None,
        count_retrieved=0,
        count_new=0,
    )


def _search_fetch(search: Search, client: PubMedClient, progress, claim: JobClaim) -> None:
    plan = client.plan_search(
        search.query,
        mindate=search.mindate or None,
        maxdate=search.maxdate or None,
        datetype=search.datetype or "pdat",
    )
    first = plan.parts[0] if plan.parts else None
    provenance = {
        "tool": "Bio.Entrez",
        "split_by_date": plan.split,
        "parts": [
            {
                "mindate": lo.isoformat() if lo else None,
                "maxdate": hi.isoformat() if hi else None,
                "count": n,
            }
            for lo, hi, n in plan.ranges
        ],
        "parts_total": plan.parts_total,
        "errors": first.errors if first else {},
        "warnings": first.warnings if first else {},
    }
    # Written with the outcome, not now: an update here would lock the row for the whole run and
    # hold up the heartbeat, which is written from another connection.
    planned = {
        "run_at": timezone.now(),
        "count_reported": plan.count,
        "query_translation": first.query_translation if first else "",
        "progress_total": plan.parts_total,
    }
    # After the plan (a few requests), before reading what the review holds: see the lock's note.
    review_records_lock(search.review_id)
    # A scheduled update of a living review reads only what its new records could match, so it
    # takes time in proportion to what PubMed added, not to the review (BENCHMARKS.md).
    living = search.scheduled
    known = set() if living else _known_pmids(search)
    index = (
        duplicate_index_candidates(search.review) if living else duplicate_index_for(search.review)
    )
    retrieved = new = top = 0
    rejections: list[dict] = []

    def on_progress(done: int, total: int) -> None:
        progress_write("search", search.pk, done=done, total=total)
        if progress:
            progress(done, total)

    for part_index, batch in client.fetch_plan(plan, batch_size=BATCH_SIZE, progress=on_progress):
        # The reply is kept as PubMed sent it, as an upload is: each record's `raw` points into it,
        # so nothing PubMed said is lost while the rows stay small.
        reply_path = default_storage.save(
            f"searches/{search.pk}/part{part_index + 1}-batch{batch.batch_index}.xml",
            ContentFile(batch.xml),
        )
        parsed = []
        items = list(parse_pubmed_xml(BytesIO(batch.xml)))
        if living:
            known |= _pmids_in_review(search, items)
            duplicate_candidates_add(index, search.review, items)
        for item in items:
            if isinstance(item, ParseWarning):
                # The PubMed XML parser gives none (its structure faults are FileUnreadable).
                continue
            if isinstance(item, Rejection):
                rejections.append(
                    {
                        "part": part_index + 1,
                        "batch": batch.batch_index,
                        "position": batch.retstart + item.position,
                        "reason": item.reason,
                    }
                )
                continue
            retrieved += 1
            if item.pmid and item.pmid in known:
                continue
            known.add(item.pmid)
            item.raw = {**(item.raw or {}), "reply": reply_path, "position_in_reply": item.position}
            item.position = batch.retstart + item.position
            parsed.append(item)
        ids, _links = records_add_parsed(
            review=search.review, parsed=parsed, index=index, search=search
        )
        new += len(ids)
        if ids:
            top = max(top, ids[-1])
        claim.step()
    records_added_finish(review=search.review, top=top, added=new)
    if search.rerun_of_id:
        living_version_add(search=search, added=new)
    provenance["rejections"] = rejections
    claim.finish(
        **planned,
        status=JobStatus.DONE,
        finished_at=timezone.now(),
        count_retrieved=retrieved,
        count_new=new,
        progress_done=retrieved,
        provenance=provenance,
    )
