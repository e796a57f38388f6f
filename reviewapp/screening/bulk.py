"""Bulk upload of full texts: many PDFs (or a zip of them) staged, matched, reviewed, confirmed.

``bulk_stage`` checks every file (a real, unencrypted PDF within FULLTEXT_MAX_BYTES; zips within
their limits, without path tricks), stores the acceptable ones in a staging area and matches each
to a record at the full-text stage (reviewapp.screening.bulk_match). Nothing is attached yet: the
member reviews the matches, assigns or discards files, and ``bulk_confirm`` attaches them all in
one transaction through ``report_upload`` (the service a single upload uses), or none of them.
"""

from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from reviewapp.core.errors import ServiceError
from reviewapp.core.filenames import upload_name_clean
from reviewapp.core.permissions import require
from reviewapp.literature.models import Record
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
from reviewapp.screening.models import BulkUpload, BulkUploadFile
from reviewapp.screening.pdfs import PdfRefused, pdf_check
from reviewapp.screening.selectors import stage_eligible_ids

ZIP_MAGIC = b"PK\x03\x04"


def _max_total() -> int:
    # Files are checked in the request's memory, so a batch stays within 500 MB unpacked.
    return min(500 * 1024**2, settings.FULLTEXT_MAX_BYTES * 50)


def bulk_candidates(review: Review) -> list[Candidate]:
    """The records at the full-text stage, as the matcher sees them."""
    ids = stage_eligible_ids(review, Stage.FULL_TEXT)
    rows = Record.objects.filter(pk__in=ids).only(
        "pk", "doi", "pmid", "title", "authors", "year", "review_id"
    )
    out = []
    for r in rows:
        author = (r.first_author or "").strip()
        surname = re.split(r"[,\s]+", author)[0] if author else ""
        label = str(getattr(r, "number", None) or r.pk)
        out.append(Candidate(r.pk, label, r.doi, r.pmid, r.title, surname, r.year))
    return out


def bulk_stage(*, membership: Membership, uploads: list) -> BulkUpload:
    """Check, store and match a set of uploaded files (PDFs and zips of PDFs) as a new batch.

    Files that are refused are kept in the batch with the reason (and no content), so the review
    page names each of them; the batch is refused as a whole only if nothing in it is a PDF.
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
        else:
            items.append((name, data, ""))
    if len(items) > MAX_MEMBERS:
        raise ServiceError(
            f"That is {len(items)} files; upload at most {MAX_MEMBERS} at once.", field="files"
        )
    matcher = Matcher(bulk_candidates(membership.review))
    stored: list[str] = []
    try:
        return _stage_rows(membership, items, matcher, stored)
    except BaseException:
        # The rows were rolled back; the files written for them go too.
        _delete_files(stored)
        raise


def _stage_rows(membership, items, matcher, stored: list[str]) -> BulkUpload:
    max_bytes = settings.FULLTEXT_MAX_BYTES
    with transaction.atomic():
        batch = BulkUpload.objects.create(review=membership.review, uploaded_by=membership.user)
        seen: dict[str, str] = {}
        for name, content, refused in items:
            row = BulkUploadFile(batch=batch, name=name[:255], refused=refused)
            if content is not None and not refused:
                row.size = len(content)
                row.sha256 = hashlib.sha256(content).hexdigest()
                try:
                    facts = pdf_check(content, max_bytes=max_bytes, read_text=True)
                except PdfRefused as exc:
                    row.refused = str(exc)
                else:
                    if row.sha256 in seen:
                        row.refused = f"it is the same file as {seen[row.sha256]}"
                    else:
                        seen[row.sha256] = name
                        match = matcher.match(name=name, title=facts.title, text=facts.text)
                        row.record_id = match.record_id
                        row.method = match.method
                        row.evidence = match.evidence[:500]
                        base = re.sub(r"[^A-Za-z0-9._-]+", "-", name.rsplit("/", 1)[-1])
                        row.file.save(base[-100:] or "file.pdf", ContentFile(content), save=False)
                        stored.append(row.file.name)
            row.save()
        if not batch.files.filter(refused="").exists():
            # Nothing usable: say why, file by file, and keep nothing.
            reasons = "; ".join(f"{f.name}: {f.refused}" for f in batch.files.all()[:10])
            raise ServiceError(f"No PDF could be taken. {reasons}", field="files")
    return batch


def _staged(membership: Membership, batch: BulkUpload) -> None:
    require(membership, Capability.SCREEN)
    if batch.review_id != membership.review_id:
        raise ServiceError("That upload belongs to another review.")
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
    """Assign a staged file to a record (by its number or id), leave it unassigned, or discard it."""
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
    record_id = int(match.group(1)) if match else None
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
    """Give up a staged upload: nothing is attached, its staged files are deleted."""
    _staged(membership, batch)
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
