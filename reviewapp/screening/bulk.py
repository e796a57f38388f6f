"""Bulk upload of full texts: many PDFs (or a zip of them) staged, matched, reviewed, confirmed.

``bulk_stage`` unpacks the upload (zips within their limits, without path tricks) and stores the
files in a staging area; the batch's BulkMatch job (``bulk_match_run``, in the worker for a large
upload) checks each as a real, unencrypted PDF within FULLTEXT_MAX_BYTES and matches it to a record
at the full-text stage (reviewapp.screening.bulk_match). Nothing is attached yet: the
member reviews the matches, assigns or discards files, and ``bulk_confirm`` attaches them all in
one transaction through ``report_upload`` (the service a single upload uses), or none of them.
"""

from __future__ import annotations

import hashlib
import logging
import re

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from reviewapp.core.errors import ServiceError
from reviewapp.core.filenames import upload_name_clean
from reviewapp.core.jobs import JobLost, job_claim, job_enqueue
from reviewapp.core.permissions import require
from reviewapp.core.progress import progress_read, progress_write
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Record
from reviewapp.literature.selectors import records_merged
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.bulk_match import (
    MAX_MEMBERS,
    Candidate,
    Matcher,
    ZipRefused,
    zip_members,
)
from reviewapp.screening.constants import BulkStatus, MatchMethod, Stage
from reviewapp.screening.fulltext import report_upload
from reviewapp.screening.models import BulkMatch, BulkUpload, BulkUploadFile
from reviewapp.screening.pdfs import PDF_MAGIC, PdfRefused, pdf_check
from reviewapp.screening.selectors import stage_eligible_ids

logger = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"


def _max_total() -> int:
    # Files are checked in the request's memory, so a batch stays within 500 MB unpacked.
    return min(500 * 1024**2, settings.FULLTEXT_MAX_BYTES * 50)


def bulk_candidates(review: Review) -> list[Candidate]:
    """The records at the full-text stage, as the matcher sees them."""
    ids = stage_eligible_ids(review, Stage.FULL_TEXT)
    # A merged cluster's primary is matched on the cluster's identifiers: a PDF carrying the DOI
    # a duplicate brought finds the record screened.
    rows = records_merged(
        review,
        Record.objects.filter(pk__in=ids).only(
            "pk", "number", "doi", "pmid", "title", "authors", "year", "review_id"
        ),
    )
    out = []
    for r in rows:
        author = (r.first_author or "").strip()
        surname = re.split(r"[,\s]+", author)[0] if author else ""
        label = str(getattr(r, "number", None) or r.pk)
        out.append(Candidate(r.pk, label, r.doi, r.pmid, r.title, surname, r.year))
    return out


INLINE_MAX_FILES = 10  # a handful of PDFs is matched in the request; more go to the worker
PROGRESS_KIND = "bulk-match"


def bulk_stage(*, membership: Membership, uploads: list) -> BulkUpload:
    """Unpack and store a set of uploaded files (PDFs and zips of PDFs) as a new batch, and match it.

    What the request can judge at once is refused here: a zip that is a bomb, encrypted, too big
    or too full refuses the upload; members with paths that climb out, that are not PDFs or are
    too large are kept in the batch with the reason (and no content), so the review page names
    each; an upload in which nothing could be a PDF is refused as a whole. The rest is stored
    ``pending`` and read and matched by the batch's BulkMatch job (``bulk_match_run``): in this
    request for a handful of files, else by the worker while the review page shows progress.
    """
    require(membership, Capability.SCREEN)
    uploads = [u for u in uploads if u is not None]
    if not uploads:
        raise ServiceError("Choose PDF files, or a zip of PDFs, to upload.", field="files")
    max_bytes = settings.FULLTEXT_MAX_BYTES
    items: list[tuple[str, bytes | None, str]] = []
    for upload in uploads:
        name = upload_name_clean(upload.name, default="file")
        if upload.size > max(max_bytes, _max_total()):
            items.append((name, None, "it is too large to take"))
            continue
        upload.seek(0)
        data = upload.read()
        if data.startswith(ZIP_MAGIC) or name.lower().endswith(".zip"):
            try:
                members = zip_members(
                    data, zip_name=name, max_file_bytes=max_bytes, max_total_bytes=_max_total()
                )
            except ZipRefused as exc:
                raise ServiceError(str(exc), field="files") from None
            items += [(f"{name}/{m.name}", m.content, m.refused) for m in members]
        elif len(data) > max_bytes:
            items.append(
                (
                    name,
                    None,
                    f"it is {len(data) / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.0f} MB",
                )
            )
        elif not data.startswith(PDF_MAGIC):
            items.append((name, None, "it is not a PDF (it does not start with %PDF-)"))
        else:
            items.append((name, data, ""))
    if len(items) > MAX_MEMBERS:
        raise ServiceError(
            f"That is {len(items)} files; upload at most {MAX_MEMBERS} at once.", field="files"
        )
    if not any(content is not None and not refused for _name, content, refused in items):
        reasons = "; ".join(f"{name}: {refused}" for name, _c, refused in items[:10])
        raise ServiceError(f"No PDF could be taken. {reasons}", field="files")
    stored: list[str] = []
    try:
        job = _stage_rows(membership, items, stored)
    except BaseException:
        # The rows were rolled back; the files written for them go too.
        _delete_files(stored)
        raise
    if job.total > INLINE_MAX_FILES:
        return job.batch
    # Small: matched here, through the job's own claim, as the worker would.
    job = bulk_match_run(match_id=job.pk)
    if job.status == JobStatus.FAILED:
        raise ServiceError(job.error, field="files")
    return job.batch


def _stage_rows(membership, items, stored: list[str]) -> BulkMatch:
    with transaction.atomic():
        batch = BulkUpload.objects.create(review=membership.review, uploaded_by=membership.user)
        pending = 0
        for name, content, refused in items:
            row = BulkUploadFile(batch=batch, name=name[:255], refused=refused)
            if content is not None and not refused:
                row.size = len(content)
                row.sha256 = hashlib.sha256(content).hexdigest()
                row.pending = True
                base = re.sub(r"[^A-Za-z0-9._-]+", "-", name.rsplit("/", 1)[-1])
                row.file.save(base[-100:] or "file.pdf", ContentFile(content), save=False)
                stored.append(row.file.name)
                pending += 1
            row.save()
        job = BulkMatch.objects.create(batch=batch, total=pending)
        if pending > INLINE_MAX_FILES:
            job_enqueue(job)
    return job


def bulk_match_progress(job: BulkMatch) -> dict:
    """Files checked and total for the page: the cache while it runs, the rows once finished."""
    live = progress_read(PROGRESS_KIND, job.pk)
    if job.status == JobStatus.RUNNING and live:
        return {"done": live["done"], "total": live.get("total") or job.total}
    if job.status == JobStatus.DONE:
        return {"done": job.total, "total": job.total}
    return {"done": 0, "total": job.total}


def bulk_match_run(*, match_id: int) -> BulkMatch:
    """Check and match the pending files of one batch (or take back a job whose worker died).

    All in one transaction with the job's finish: an attempt that dies, or is given up for dead,
    leaves the files pending for the next one, and never half of a batch matched. If no file
    turns out to be a usable PDF, the job fails with every reason and the batch is discarded.
    """
    claim = job_claim(BulkMatch, match_id)
    if claim is None:
        return BulkMatch.objects.get(pk=match_id)
    job = BulkMatch.objects.select_related("batch__review").get(pk=match_id)
    try:
        with claim.heartbeat():
            _match_all(job, claim)
    except JobLost:
        logger.warning("bulk match %s was taken over by a later attempt", job.pk)
    except Exception as exc:
        logger.exception("bulk match %s failed", job.pk)
        BulkMatch.objects.filter(pk=job.pk, claim_token=claim.token).update(
            status=JobStatus.FAILED,
            error=f"Matching stopped: {type(exc).__name__}: {str(exc)[:300]}. Nothing was "
            "attached; discard this upload and upload the files again.",
            finished_at=timezone.now(),
        )
    job.refresh_from_db()
    return job


def _match_all(job: BulkMatch, claim) -> None:
    batch = job.batch
    max_bytes = settings.FULLTEXT_MAX_BYTES
    matcher = Matcher(bulk_candidates(batch.review))
    rows = list(batch.files.filter(pending=True).order_by("pk"))
    total = len(rows)
    progress_write(PROGRESS_KIND, job.pk, done=0, total=total)
    gone: list[str] = []
    with transaction.atomic():
        # Held to the end, so the upload cannot be discarded under the job.
        locked = BulkUpload.objects.select_for_update().get(pk=batch.pk)
        if locked.status != BulkStatus.STAGED:
            claim.finish(
                status=JobStatus.FAILED,
                error=f"The upload was {locked.get_status_display().lower()} before it was "
                "matched.",
                finished_at=timezone.now(),
            )
            return
        seen: dict[str, str] = dict(
            batch.files.filter(pending=False, refused="")
            .exclude(sha256="")
            .values_list("sha256", "name")
        )
        for done, row in enumerate(rows, start=1):
            with row.file.open("rb") as handle:
                content = handle.read()
            try:
                facts = pdf_check(content, max_bytes=max_bytes, read_text=True)
            except PdfRefused as exc:
                row.refused = str(exc)
            else:
                if row.sha256 in seen:
                    row.refused = f"it is the same file as {seen[row.sha256]}"
                else:
                    seen[row.sha256] = row.name
                    match = matcher.match(name=row.name, title=facts.title, text=facts.text)
                    row.record_id = match.record_id
                    row.method = match.method
                    row.evidence = match.evidence[:500]
            if row.refused:
                gone.append(row.file.name)
                row.file = ""
            row.pending = False
            row.save()
            progress_write(PROGRESS_KIND, job.pk, done=done, total=total)
            claim.step()
        now = timezone.now()
        if batch.files.filter(refused="").exists():
            claim.finish(status=JobStatus.DONE, total=total, finished_at=now)
        else:
            # Nothing usable: say why, file by file, and keep nothing.
            reasons = "; ".join(f"{f.name}: {f.refused}" for f in batch.files.all()[:10])
            claim.finish(
                status=JobStatus.FAILED,
                total=total,
                error=f"No PDF could be taken. {reasons}",
                finished_at=now,
            )
            BulkUpload.objects.filter(pk=batch.pk).update(
                status=BulkStatus.DISCARDED, finished_at=now
            )
        transaction.on_commit(lambda: _delete_files(gone))


def _staged(membership: Membership, batch: BulkUpload, *, matched: bool = True) -> None:
    require(membership, Capability.SCREEN)
    if batch.review_id != membership.review_id:
        raise ServiceError("That upload belongs to another review.")
    job = BulkMatch.objects.filter(batch=batch).first()
    if matched and job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        raise ServiceError("This upload is still being matched; wait until it is finished.")
    if matched and job is not None and job.status == JobStatus.FAILED:
        raise ServiceError("Matching this upload failed, so it can only be discarded.")
    if batch.status != BulkStatus.STAGED:
        raise ServiceError(f"This upload is already {batch.get_status_display().lower()}.")


def bulk_assign(
    *,
    membership: Membership,
    batch: BulkUpload,
    file_id: int,
    record_ref: str = "",
    discard: bool = False,
) -> BulkUploadFile:
    """Assign a staged file to a record (by its number in the review, "#17" or "17", as the
    picker and every page show it), leave it unassigned, or discard it."""
    _staged(membership, batch)
    row = batch.files.filter(pk=file_id, refused="").first()
    if row is None:
        raise ServiceError("That file is not in this upload.", field="file")
    if discard:
        row.discarded = True
        row.save(update_fields=["discarded"])
        return row
    ref = record_ref.strip()
    if not ref:
        row.record = None
        row.method, row.evidence, row.discarded = "", "", False
        row.save()
        return row
    match = re.match(r"^#?\s*(\d+)", ref)
    eligible = set(stage_eligible_ids(batch.review, Stage.FULL_TEXT))
    record_id = (
        Record.objects.filter(review=batch.review, number=int(match.group(1)))
        .values_list("pk", flat=True)
        .first()
        if match
        else None
    )
    if record_id not in eligible:
        raise ServiceError(
            f"'{ref[:40]}' is not a record at the full-text stage; pick one from the list.",
            field="record",
        )
    row.record_id = record_id
    row.method = MatchMethod.MANUAL
    row.evidence = f"assigned by {membership.user}"
    row.discarded = False
    row.save()
    return row


def bulk_confirm(*, membership: Membership, batch: BulkUpload) -> int:
    """Attach every assigned file to its record, all in one transaction; return how many.

    Two files for one record, or any file the upload service refuses, stops the whole batch with
    a message naming the file: nothing is half-attached.
    """
    _staged(membership, batch)
    rows = list(
        batch.files.filter(refused="", discarded=False, record__isnull=False).select_related(
            "record"
        )
    )
    if not rows:
        raise ServiceError("No file is assigned to a record; assign some or discard the upload.")
    by_record: dict[int | None, str] = {}
    for row in rows:
        if row.record_id in by_record:
            raise ServiceError(
                f"{by_record[row.record_id]} and {row.name} are both assigned to record "
                f"{row.record_id}; discard one or assign it elsewhere."
            )
        by_record[row.record_id] = row.name
    with transaction.atomic():
        locked = BulkUpload.objects.select_for_update().get(pk=batch.pk)
        if locked.status != BulkStatus.STAGED:
            raise ServiceError(f"This upload is already {locked.get_status_display().lower()}.")
        for row in rows:
            row.file.open("rb")
            try:
                upload = ContentFile(row.file.read(), name=row.name.rsplit("/", 1)[-1])
            finally:
                row.file.close()
            assert row.record is not None  # filtered on record__isnull=False above
            try:
                report_upload(membership=membership, record=row.record, upload=upload)
            except ServiceError as exc:
                raise ServiceError(
                    f"{row.name} could not be attached to record {row.record_id}: {exc.message} "
                    "Nothing from this upload was attached."
                ) from None
        locked.status = BulkStatus.CONFIRMED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "finished_at", "updated_at"])
    batch.refresh_from_db()
    return len(rows)


def bulk_discard(*, membership: Membership, batch: BulkUpload) -> None:
    """Give up a staged upload: nothing is attached, its staged files are deleted.

    Allowed before its matching starts (the job then finds the batch discarded and does
    nothing) and after it ends, failed or not; not while it runs.
    """
    _staged(membership, batch, matched=False)
    if BulkMatch.objects.filter(batch=batch, status=JobStatus.RUNNING).exists():
        raise ServiceError("This upload is being matched right now; discard it once it is done.")
    with transaction.atomic():
        BulkUpload.objects.filter(pk=batch.pk).update(
            status=BulkStatus.DISCARDED, finished_at=timezone.now()
        )
        names = [f.file.name for f in batch.files.exclude(file="")]
        transaction.on_commit(lambda: _delete_files(names))


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)
