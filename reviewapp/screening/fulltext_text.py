"""The text of each uploaded PDF, extracted once in the background and stored for search.

``report_text_enqueue`` is called when an upload commits; the task runs ``report_text_extract``,
which is idempotent (a second delivery finds the row and does nothing). A broker that is down
only delays search: the upload itself never fails because of it.
"""

from __future__ import annotations

import io
import logging

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


def records_with_text(review_id: int, words: str):
    """Ids of the review's records whose current PDF's text contains ``words`` (any case)."""
    return (
        ReportText.objects.filter(review_id=review_id, text__icontains=words)
        .filter(report_file__file=F("report_file__report__file"))
        .values("record_id")
    )
