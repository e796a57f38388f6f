"""``manage.py fulltext_text_backfill``: extract the text of uploaded PDFs stored without it.

PDFs uploaded before text extraction existed cannot be found by the records list's full-text
search until this has run. Safe to run again, and beside the worker: each file is done once.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from reviewapp.reviews.models import Review
from reviewapp.screening.fulltext_text import (
    BACKFILL_BATCH,
    BackfillResult,
    report_files_without_text,
    report_texts_backfill,
)


class Command(BaseCommand):
    help = (
        "Extract and store the text of uploaded full-text PDFs that have none yet (uploaded "
        "before extraction existed), in batches; prints each file that fails and why."
    )

    def add_arguments(self, parser):
        parser.add_argument("--review", metavar="SLUG", help="Only this review's PDFs")
        parser.add_argument("--batch-size", type=int, default=BACKFILL_BATCH)
        parser.add_argument("--limit", type=int, help="Stop after this many files")
        parser.add_argument(
            "--retry-failed",
            action="store_true",
            help="Try again the files whose extraction failed before",
        )
        parser.add_argument(
            "--background",
            action="store_true",
            help="Queue the work for the Celery worker instead of doing it here",
        )

    def handle(self, *args, review, batch_size, limit, retry_failed, background, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        review_id = None
        if review:
            found = Review.objects.filter(slug=review).first()
            if found is None:
                raise CommandError(f"No review has the short name '{review}'.")
            review_id = found.pk
        todo = report_files_without_text(review_id=review_id).count()
        if background:
            from reviewapp.screening.tasks import report_texts_backfill_task

            report_texts_backfill_task.delay(review_id=review_id, batch_size=batch_size)
            self.stdout.write(f"Queued: {todo} PDF(s) without text; the worker extracts them.")
            return
        self.stdout.write(f"{todo} PDF(s) without text.")

        def progress(result: BackfillResult) -> None:
            self.stdout.write(
                f"  {result.extracted} extracted, {len(result.failures)} failed so far"
            )

        result = report_texts_backfill(
            review_id=review_id,
            batch_size=batch_size,
            limit=limit,
            retry_failed=retry_failed,
            progress=progress,
        )
        for pk, name, reason in result.failures:
            self.stderr.write(f"file {pk} ({name}): {reason}")
        self.stdout.write(
            f"Done: {result.extracted} extracted, {len(result.failures)} failed, "
            f"{result.remaining} still without text."
        )
