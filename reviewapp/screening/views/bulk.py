"""Bulk upload of full texts: upload many PDFs or a zip, review the matches, confirm."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from reviewapp.core.errors import ServiceError
from reviewapp.core.htmx import is_htmx
from reviewapp.core.permissions import require, review_view
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.selectors import records_merged
from reviewapp.reviews.constants import Capability
from reviewapp.screening import bulk as service
from reviewapp.screening.bulk_match import MAX_MEMBERS
from reviewapp.screening.constants import BulkStatus
from reviewapp.screening.models import BulkMatch, BulkUpload


@review_view(Capability.VIEW)
@require_http_methods(["GET", "POST"])
def fulltext_bulk(request, *, review, membership):
    """The upload form and the review's staged uploads."""
    error = ""
    if request.method == "POST":
        require(membership, Capability.SCREEN)
        try:
            batch = service.bulk_stage(
                membership=membership, uploads=request.FILES.getlist("files")
            )
        except ServiceError as exc:
            error = exc.message
        else:
            return redirect("screening:fulltext-bulk-review", review.slug, batch.pk)
    staged = BulkUpload.objects.filter(review=review, status=BulkStatus.STAGED).select_related(
        "uploaded_by"
    )
    return render(
        request,
        "screening/fulltext_bulk.html",
        {
            "review": review,
            "membership": membership,
            "can_screen": membership.can(Capability.SCREEN),
            "staged": list(staged),
            "error": error,
            "max_upload_bytes": settings.FULLTEXT_MAX_BYTES,
            "max_files": MAX_MEMBERS,
        },
        status=422 if error else 200,
    )


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


def _status_context(review, batch, job, polling: bool) -> dict:
    progress = service.bulk_match_progress(job) if job else {"done": 0, "total": 0}
    total = progress["total"] or 0
    return {
        "review": review,
        "batch": batch,
        "job": job,
        "polling": polling,
        "done": progress["done"],
        "total": total,
        "percent": int(100 * progress["done"] / total) if total else 0,
    }


@review_view(Capability.VIEW)
@require_http_methods(["GET", "POST"])
def fulltext_bulk_review(request, batch_id: int, *, review, membership):
    """The matches of one upload with their evidence; assign, discard, confirm."""
    batch = get_object_or_404(BulkUpload, pk=batch_id, review=review)
    job = BulkMatch.objects.filter(batch=batch).first()
    polling = bool(job and job.status in ACTIVE)
    if is_htmx(request) and request.GET.get("part") == "status":
        response = render(
            request,
            "screening/partials/_bulk_match_status.html",
            _status_context(review, batch, job, polling),
        )
        if not polling:
            # Finished: the whole page reloads to show the matches.
            response["HX-Refresh"] = "true"
        return response
    errors: dict[str, str] = {}
    if request.method == "POST":
        require(membership, Capability.SCREEN)
        action = request.POST.get("action", "")
        try:
            if action == "confirm":
                n = service.bulk_confirm(membership=membership, batch=batch)
                messages.success(request, f"{n} PDF{'s' if n != 1 else ''} attached.")
                return redirect("screening:fulltext-bulk", review.slug)
            if action == "discard-all":
                service.bulk_discard(membership=membership, batch=batch)
                messages.success(request, "The upload was discarded; nothing was attached.")
                return redirect("screening:fulltext-bulk", review.slug)
            file_id = int(request.POST.get("file") or 0)
            service.bulk_assign(
                membership=membership,
                batch=batch,
                file_id=file_id,
                record_ref=request.POST.get("record", ""),
                discard=action == "discard",
            )
            return redirect("screening:fulltext-bulk-review", review.slug, batch.pk)
        except (ServiceError, ValueError) as exc:
            message = exc.message if isinstance(exc, ServiceError) else "Choose a file."
            errors[request.POST.get("file") or "batch"] = message
    files = list(batch.files.select_related("record"))
    records_merged(review, [f.record for f in files])
    for f in files:
        f.error = errors.get(str(f.pk), "")  # type: ignore[attr-defined]
    matched = [f for f in files if not f.refused and not f.discarded and f.record_id]
    unmatched = [f for f in files if not f.refused and not f.discarded and not f.record_id]
    can_screen = membership.can(Capability.SCREEN) and batch.status == BulkStatus.STAGED
    can_edit = can_screen and (job is None or job.status == JobStatus.DONE)
    candidates = service.bulk_candidates(review) if can_edit else []
    return render(
        request,
        "screening/fulltext_bulk_review.html",
        {
            **_status_context(review, batch, job, polling),
            "membership": membership,
            "can_edit": can_edit,
            "can_discard": can_screen and not (job and job.status == JobStatus.RUNNING),
            "matched": matched,
            "unmatched": unmatched,
            "refused": [f for f in files if f.refused],
            "discarded": [f for f in files if f.discarded],
            "candidates": sorted(candidates, key=lambda c: int(c.label)),
            "errors": errors,
            "batch_error": errors.get("batch", ""),
        },
        status=422 if errors else 200,
    )
