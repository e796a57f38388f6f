"""The text of each uploaded PDF, extracted once in the background and stored for search.

``report_text_enqueue`` is called when an upload commits; the task runs ``report_text_extract``,
which is idempotent (a second delivery finds the row and does nothing). A broker that is down
only delays search: the upload itself never fails because of it.

PDFs uploaded before extraction existed have no text; ``report_texts_backfill`` (the command
``manage.py fulltext_text_backfill`` and the task ``screening.report_texts_backfill``) extracts
theirs in batches, through the same ``report_text_extract``, so running it twice, or beside the
upload tasks, does each file once.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F

from reviewapp.screening.models import ReportFile, ReportText

logger = logging.getLogger(__name__)

MAX_PAGES = 500
MAX_CHARS = 2_000_000


def report_text_enqueue(report_file_id: int) -> None:
    """Send the extraction task once the upload's transaction commits."""

    def send() -> None:
        from reviewapp.screening.tasks import report_text_extract_task

        try:
            report_text_extract_task.delay(report_file_id)
        except Exception:  # noqa: BLE001 - search waits; the upload has succeeded
            logger.warning("could not queue text extraction of %s", report_file_id, exc_info=True)

    transaction.on_commit(send)


def report_text_extract(*, report_file_id: int) -> ReportText | None:
    """Extract and store the text of one uploaded PDF (at most MAX_PAGES pages); once only."""
    from pypdf import PdfReader

    existing = ReportText.objects.filter(report_file_id=report_file_id).first()
    if existing is not None:
        return existing
    version = ReportFile.objects.select_related("report").filter(pk=report_file_id).first()
    if version is None:
        return None
    text, pages, error = "", 0, ""
    try:
        with version.file.open("rb") as handle:
            reader = PdfReader(io.BytesIO(handle.read()), strict=False)
        pages = len(reader.pages)
        parts, size = [], 0
        for page in reader.pages[:MAX_PAGES]:
            chunk = page.extract_text() or ""
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_CHARS:
                break
        text = "\n".join(parts)[:MAX_CHARS].replace("\x00", "")
    except Exception as exc:  # noqa: BLE001 - a damaged PDF gets an empty text and the reason
        error = f"{type(exc).__name__}: {exc}"[:300]
    try:
        return ReportText.objects.create(
            report_file=version,
            review_id=version.report.review_id,
            record_id=version.report.record_id,
            text=text,
            pages=pages,
            error=error,
        )
    except IntegrityError:
        return ReportText.objects.filter(report_file_id=report_file_id).first()


BACKFILL_BATCH = 50


@dataclass
class BackfillResult:
    """What one backfill did: files extracted, and each failure as (file id, name, reason)."""

    extracted: int = 0
    failures: list[tuple[int, str, str]] = field(default_factory=list)
    remaining: int = 0


def report_files_without_text(*, review_id: int | None = None):
    """Uploaded PDF versions that have no stored text yet, oldest first."""
    files = ReportFile.objects.filter(text__isnull=True).order_by("pk")
    if review_id is not None:
        files = files.filter(report__review_id=review_id)
    return files


def report_texts_backfill(
    *,
    review_id: int | None = None,
    batch_size: int = BACKFILL_BATCH,
    limit: int | None = None,
    retry_failed: bool = False,
    progress: Callable[[BackfillResult], None] | None = None,
) -> BackfillResult:
    """Extract the text of every uploaded PDF that lacks it, ``batch_size`` files at a time.

    Idempotent: each file goes through ``report_text_extract``, which stores one row per file
    whoever gets there first. A PDF that cannot be read gets a row with its reason (the upload
    was checked, so that is rare: a file lost from storage, a pypdf failure); those are reported,
    and with ``retry_failed`` their rows are dropped first so they are tried again.
    """
    if retry_failed:
        failed = ReportText.objects.exclude(error="")
        if review_id is not None:
            failed = failed.filter(review_id=review_id)
        failed.delete()
    result = BackfillResult()
    after = 0
    while limit is None or result.extracted + len(result.failures) < limit:
        size = (
            batch_size
            if limit is None
            else min(batch_size, limit - result.extracted - len(result.failures))
        )
        batch = list(
            report_files_without_text(review_id=review_id)
            .filter(pk__gt=after)
            .values_list("pk", "original_filename", "file")[:size]
        )
        if not batch:
            break
        for pk, original, stored in batch:
            after = pk
            row = report_text_extract(report_file_id=pk)
            if row is None:
                continue  # the version was deleted meanwhile (its review went)
            if row.error:
                result.failures.append((pk, original or stored, row.error))
            else:
                result.extracted += 1
        if progress is not None:
            progress(result)
    result.remaining = report_files_without_text(review_id=review_id).count()
    return result


def records_with_text(review_id: int, words: str):
    """Ids of the review's records whose current PDF's text contains ``words`` (any case)."""
    return (
        ReportText.objects.filter(review_id=review_id, text__icontains=words)
        .filter(report_file__file=F("report_file__report__file"))
        .values("record_id")
    )
