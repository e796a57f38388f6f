"""Automatic retrieval of open-access full texts for the records that reach full text.

For each record without a PDF: PubMed Central first (the record's PMCID, or one found through
Entrez elink pubmed -> pmc, then the PMC OA service's PDF link), then Unpaywall by DOI (only when
UNPAYWALL_EMAIL is set). A PDF found is downloaded within FULLTEXT_MAX_BYTES, checked as a real,
readable PDF (reviewapp.screening.pdfs) and attached through ``report_upload``, the service a manual
upload goes through, as the member who started the run. Each record gets a RetrievalItem saying what
was found and from where, or why nothing was.

Requests are spaced by limiters shared by every worker through Redis: NCBI (E-utilities, the OA
service and its file host) at 3 a second without an API key and 10 with one, Unpaywall at 10 a
second, and any other file host at 2 a second.

The run is a background job (reviewapp.core.jobs): claimed, heartbeating, with progress in the
cache. A record is attached in its own transaction, so a worker that dies loses nothing; the
attempt that takes the job back skips the records this run has already reported.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from reviewapp.core.errors import ServiceError
from reviewapp.core.jobs import JobLost, job_claim, job_enqueue, job_requeue
from reviewapp.core.permissions import require
from reviewapp.core.progress import progress_read, progress_write
from reviewapp.integrations import openaccess
from reviewapp.integrations.entrez import (
    INTERVAL_WITH_KEY,
    INTERVAL_WITHOUT_KEY,
    EntrezError,
    PubMedClient,
    RateLimiter,
)
from reviewapp.integrations.openaccess import FetchError, HttpClient, Lookup
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Record
from reviewapp.literature.selectors import records_merged
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import RetrievalOutcome, RetrievalSource, Stage
from reviewapp.screening.fulltext import report_upload
from reviewapp.screening.models import Report, Retrieval, RetrievalItem
from reviewapp.screening.pdfs import PdfRefused, pdf_check
from reviewapp.screening.selectors import stage_eligible_ids

logger = logging.getLogger(__name__)

UNPAYWALL_INTERVAL = 0.1  # Unpaywall asks for at most 100,000 calls a day; 10 a second is polite
OTHER_HOST_INTERVAL = 0.5  # publishers' and repositories' servers, one host at a time
RETRY_TRIES = 4
RETRY_BACKOFF = 1.0  # seconds before the second try, doubling after each failure
NCBI_HOSTS = ("ncbi.nlm.nih.gov", "nih.gov")
PROGRESS_KIND = "retrieval"


# --- limiters -----------------------------------------------------------------------------------


class Limiters:
    """The limiters of one run: shared through Redis when REDIS_URL is set, else per process."""

    def __init__(self) -> None:
        self._made: dict[str, openaccess.Limiter] = {}
        self._redis = None
        if settings.REDIS_URL:
            import redis

            self._redis = redis.Redis.from_url(settings.REDIS_URL)

    def _get(self, key: str, interval: float) -> openaccess.Limiter:
        if key not in self._made:
            if self._redis is not None:
                from reviewapp.integrations.ratelimit import RedisRateLimiter

                self._made[key] = RedisRateLimiter(self._redis, f"ratelimit:{key}", interval)
            else:
                self._made[key] = RateLimiter(interval)
        return self._made[key]

    def ncbi(self) -> openaccess.Limiter:
        key = settings.ENTREZ_API_KEY
        # NCBI counts per API key (or per address without one); the key itself stays out of Redis.
        name = hashlib.sha256(key.encode()).hexdigest()[:12] if key else "nokey"
        return self._get(f"ncbi:{name}", INTERVAL_WITH_KEY if key else INTERVAL_WITHOUT_KEY)

    def unpaywall(self) -> openaccess.Limiter:
        return self._get("unpaywall", UNPAYWALL_INTERVAL)

    def for_url(self, url: str) -> openaccess.Limiter:
        host = (urlsplit(url).hostname or "").lower()
        if host == "ncbi.nlm.nih.gov" or any(host.endswith("." + h) for h in NCBI_HOSTS):
            return self.ncbi()
        return self._get(f"host:{host}", OTHER_HOST_INTERVAL)


# --- requesting -----------------------------------------------------------------------------------


def retrieval_sources() -> list[str]:
    """The services retrieval will ask, as the page names them."""
    sources = ["PubMed Central"]
    if settings.UNPAYWALL_EMAIL:
        sources.append("Unpaywall")
    return sources


def retrieval_candidates(review: Review) -> list[int]:
    """Records at full text that have no PDF yet, in record order."""
    eligible = stage_eligible_ids(review, Stage.FULL_TEXT)
    with_pdf = set(
        Report.objects.filter(review=review, record_id__in=eligible)
        .exclude(file="")
        .values_list("record_id", flat=True)
    )
    return [pk for pk in eligible if pk not in with_pdf]


def retrieval_request(*, membership: Membership, queue: str | None = None) -> Retrieval:
    """Queue a retrieval run for the review's full-text records that have no PDF yet."""
    require(membership, Capability.SCREEN)
    review = membership.review
    running = Retrieval.objects.filter(
        review=review, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).first()
    if running is not None:
        raise ServiceError(
            f"A retrieval is already {running.get_status_display().lower()} for this review; "
            "wait for it to finish.",
        )
    candidates = retrieval_candidates(review)
    if not candidates:
        raise ServiceError(
            "No record at the full-text stage is missing its PDF, so there is nothing to retrieve."
        )
    retrieval = Retrieval.objects.create(
        review=review, requested_by=membership.user, total=len(candidates)
    )
    job_enqueue(retrieval, queue=queue)
    return retrieval


def retrieval_retry(
    *, membership: Membership, retrieval: Retrieval, queue: str | None = None
) -> Retrieval:
    """Queue a failed run again; the records it already reported are not asked about twice."""
    require(membership, Capability.SCREEN)
    if retrieval.review_id != membership.review_id or not job_requeue(Retrieval, pk=retrieval.pk):
        raise ServiceError("Only a failed retrieval can be run again.")
    retrieval.refresh_from_db()
    job_enqueue(retrieval, queue=queue)
    return retrieval


def retrieval_progress(retrieval: Retrieval) -> dict:
    """Done and total for the page: the cache while it runs, the items once finished."""
    live = progress_read(PROGRESS_KIND, retrieval.pk)
    if retrieval.status == JobStatus.RUNNING and live:
        return {"done": live["done"], "total": live.get("total") or retrieval.total}
    done = retrieval.items.count()
    return {"done": done, "total": retrieval.total}


# --- running --------------------------------------------------------------------------------------


def retrieval_run(*, retrieval_id: int) -> Retrieval:
    """Run a queued retrieval (or take back one whose worker died); otherwise a no-op."""
    claim = job_claim(Retrieval, retrieval_id)
    if claim is None:
        return Retrieval.objects.get(pk=retrieval_id)
    retrieval = Retrieval.objects.select_related("review", "requested_by").get(pk=retrieval_id)
    review = retrieval.review
    membership = Membership.objects.filter(review=review, user=retrieval.requested_by).first()
    if membership is None or not membership.can(Capability.SCREEN):
        claim.finish(
            status=JobStatus.FAILED,
            error="The member who started this retrieval can no longer screen in this review.",
            finished_at=timezone.now(),
        )
        retrieval.refresh_from_db()
        return retrieval
    try:
        with claim.heartbeat():
            _retrieve_all(retrieval, membership, claim)
        claim.finish(
            status=JobStatus.DONE,
            found=retrieval.items.filter(outcome=RetrievalOutcome.FOUND).count(),
            finished_at=timezone.now(),
        )
    except JobLost:
        logger.warning("retrieval %s was taken over by a later attempt", retrieval.pk)
    except Exception as exc:
        logger.exception("retrieval %s failed", retrieval.pk)
        Retrieval.objects.filter(pk=retrieval.pk, claim_token=claim.token).update(
            status=JobStatus.FAILED,
            found=retrieval.items.filter(outcome=RetrievalOutcome.FOUND).count(),
            error=f"The retrieval stopped: {type(exc).__name__}: {str(exc)[:300]}. The records "
            "reported below keep what was found; run it again for the rest.",
            finished_at=timezone.now(),
        )
    retrieval.refresh_from_db()
    return retrieval


class _Run:
    def __init__(self) -> None:
        self.limiters = Limiters()
        self.http = HttpClient(max_tries=RETRY_TRIES, backoff=RETRY_BACKOFF)
        self.max_bytes = settings.FULLTEXT_MAX_BYTES


def _retrieve_all(retrieval: Retrieval, membership: Membership, claim) -> None:
    review = retrieval.review
    reported = set(retrieval.items.values_list("record_id", flat=True))
    # Records that got a PDF meanwhile (by hand, or by a bulk upload) are not fetched again.
    todo_ids = [pk for pk in retrieval_candidates(review) if pk not in reported]
    # A merged cluster's primary is looked up by the cluster's identifiers: the DOI or PMCID a
    # duplicate brought finds the PDF its own record lacks.
    records = records_merged(review, list(Record.objects.filter(pk__in=todo_ids).order_by("pk")))
    total = len(reported) + len(records)
    Retrieval.objects.filter(pk=retrieval.pk).update(total=total)
    done = len(reported)
    progress_write(PROGRESS_KIND, retrieval.pk, done=done, total=total)
    run = _Run()
    pmcids, elink_error = _pmcids(records, run)

    def fetch(record: Record) -> _Fetched:
        return _fetch_one(record, pmcids.get(record.pk, ""), elink_error, run)

    # Lookups and downloads run in threads, each waiting for its slot from the shared limiters,
    # so NCBI, Unpaywall and the publishers' hosts are asked side by side: one record at a time
    # left each service idle while another was asked, and the run took the sum of their waits
    # instead of the longest (bench/fulltext_bench.py). The threads touch no database; records
    # are attached here, in record order, each in its own transaction as before. At most WINDOW
    # downloads wait in memory.
    threads = settings.RETRIEVAL_FETCH_THREADS if settings.REDIS_URL else 1
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="retrieval") as pool:
        pending: deque[tuple[Record, Future[_Fetched]]] = deque()
        queue = iter(records)
        try:
            while True:
                while len(pending) < threads * 2:
                    record = next(queue, None)
                    if record is None:
                        break
                    pending.append((record, pool.submit(fetch, record)))
                if not pending:
                    break
                record, future = pending.popleft()
                item = _attach(
                    record, future.result(), pmcids.get(record.pk, ""), elink_error, run, membership
                )
                item.retrieval = retrieval
                item.save()
                done += 1
                progress_write(PROGRESS_KIND, retrieval.pk, done=done, total=total)
                claim.step()
        finally:
            for _record, future in pending:
                future.cancel()


def _pmcids(records: list[Record], run: _Run) -> tuple[dict[int, str], str]:
    """The PMCID of each record: its own, or one Entrez elink finds from its PMID."""
    known = {r.pk: _pmcid_clean(r.pmcid) for r in records if _pmcid_clean(r.pmcid)}
    ask = {r.pmid.strip(): r.pk for r in records if r.pk not in known and r.pmid.strip().isdigit()}
    if not ask:
        return known, ""
    client = PubMedClient(
        email=settings.ENTREZ_EMAIL,
        api_key=settings.ENTREZ_API_KEY or None,
        base_url=settings.ENTREZ_BASE_URL,
        rate_limiter=run.limiters.ncbi(),  # type: ignore[arg-type]
        timeout=30.0,
    )
    try:
        linked = client.pmc_ids(list(ask))
    except EntrezError as exc:
        logger.warning("elink pubmed->pmc failed: %s", exc)
        return known, f"PubMed Central could not be asked for PMCIDs ({exc})"
    for pmid, pmcid in linked.items():
        if pmid in ask:
            known[ask[pmid]] = pmcid
    return known, ""


def _pmcid_clean(value: str) -> str:
    value = (value or "").strip().upper()
    if re.fullmatch(r"PMC\d+", value):
        return value
    if value.isdigit():
        return f"PMC{value}"
    return ""


@dataclass
class _Fetched:
    """A checked PDF downloaded for a record (``body``), or why none was."""

    reasons: list[str]
    failed: bool = False
    source: str = ""
    url: str = ""
    name: str = ""
    body: bytes = b""


def _fetch_one(
    record: Record, pmcid: str, elink_error: str, run: _Run, *, after_pmc: bool = False
) -> _Fetched:
    """Look the record up (PMC, then Unpaywall) and download the first PDF that passes the check.

    No database here: this runs in the fetching threads.
    """
    reasons: list[str] = []
    failed = False
    # PubMed Central.
    if after_pmc:
        pass
    elif pmcid:
        try:
            lookup = openaccess.pmc_oa_lookup(
                run.http, settings.PMC_OA_BASE_URL, pmcid, limiter=run.limiters.ncbi()
            )
            got = _download(lookup, RetrievalSource.PMC, f"{pmcid}.pdf", run, reasons)
            if got is not None:
                return got
        except FetchError as exc:
            failed = True
            reasons.append(f"PubMed Central: {exc.reason}")
    elif elink_error:
        failed = True
        reasons.append(elink_error)
    elif record.pmid.strip():
        reasons.append("PubMed Central: no copy linked to this PMID")
    else:
        reasons.append("PubMed Central: no PMID or PMCID")
    # Unpaywall.
    doi = record.doi.strip()
    if not settings.UNPAYWALL_EMAIL:
        reasons.append("Unpaywall: not asked (UNPAYWALL_EMAIL is not set)")
    elif not doi:
        reasons.append("Unpaywall: no DOI")
    else:
        try:
            lookup = openaccess.unpaywall_lookup(
                run.http,
                settings.UNPAYWALL_BASE_URL,
                doi,
                email=settings.UNPAYWALL_EMAIL,
                limiter=run.limiters.unpaywall(),
            )
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", doi)[:100] + ".pdf"
            got = _download(lookup, RetrievalSource.UNPAYWALL, name, run, reasons)
            if got is not None:
                return got
        except FetchError as exc:
            failed = True
            reasons.append(f"Unpaywall: {exc.reason}")
    return _Fetched(reasons=reasons, failed=failed)


def _download(
    lookup: Lookup, source: str, name: str, run: _Run, reasons: list[str]
) -> _Fetched | None:
    """Download and check the PDF a lookup points to; None (and a reason) if not."""
    label = RetrievalSource(source).label
    if not lookup.pdf_url:
        reasons.append(f"{label}: {lookup.reason}")
        return None
    url = lookup.pdf_url
    # The OA service links only to NCBI's own file host, so its PDFs count against NCBI's limit
    # whatever the address looks like.
    limiter = run.limiters.ncbi() if source == RetrievalSource.PMC else run.limiters.for_url(url)
    try:
        reply = run.http.get(
            url,
            limiter=limiter,
            max_bytes=run.max_bytes,
            accept="application/pdf",
            public_only=not settings.OPENACCESS_ALLOW_PRIVATE_HOSTS,
        )
    except FetchError as exc:
        reasons.append(f"{label}: the PDF could not be downloaded ({exc.reason})")
        return None
    try:
        pdf_check(reply.body, max_bytes=run.max_bytes)
    except PdfRefused as exc:
        kind = reply.content_type.split(";")[0].strip() or "unknown type"
        reasons.append(f"{label}: the file at its PDF link was refused: {exc} ({kind})")
        return None
    return _Fetched(reasons=reasons, source=source, url=url, name=name, body=reply.body)


def _attach(
    record: Record,
    fetched: _Fetched,
    pmcid: str,
    elink_error: str,
    run: _Run,
    membership: Membership,
) -> RetrievalItem:
    """Attach what was fetched through ``report_upload``, as a manual upload is attached."""
    if not fetched.body:
        return RetrievalItem(
            record=record,
            outcome=RetrievalOutcome.FAILED if fetched.failed else RetrievalOutcome.NOT_FOUND,
            reason="; ".join(fetched.reasons),
        )
    upload = SimpleUploadedFile(fetched.name, fetched.body, content_type="application/pdf")
    try:
        report_upload(membership=membership, record=record, upload=upload)
    except ServiceError as exc:
        label = RetrievalSource(fetched.source).label
        reasons = [*fetched.reasons, f"{label}: the PDF could not be attached: {exc.message}"]
        if fetched.source == RetrievalSource.PMC:
            more = _fetch_one(record, pmcid, elink_error, run, after_pmc=True)
            more.reasons = reasons + more.reasons
            return _attach(record, more, "", elink_error, run, membership)
        return RetrievalItem(
            record=record,
            outcome=RetrievalOutcome.FAILED if fetched.failed else RetrievalOutcome.NOT_FOUND,
            reason="; ".join(reasons),
        )
    return RetrievalItem(
        record=record,
        outcome=RetrievalOutcome.FOUND,
        source=fetched.source,
        url=fetched.url[:1000],
        reason="; ".join(fetched.reasons),
    )
