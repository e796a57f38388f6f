"""Full texts: attach a PDF or a link, mark not retrieved, group reports into studies."""

from __future__ import annotations

import mimetypes

from django.conf import settings as django_settings
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from reviewapp.core.errors import ServiceError
from reviewapp.core.filenames import upload_name_clean
from reviewapp.core.htmx import is_htmx
from reviewapp.core.permissions import review_view
from reviewapp.literature.models import Record
from reviewapp.reviews.constants import Capability
from reviewapp.screening import fulltext
from reviewapp.screening.constants import RetrievalStatus, Stage
from reviewapp.screening.models import Report, ReportFile
from reviewapp.screening.selectors import record_panels, stage_settings_get, studies_for_linking
from reviewapp.screening.views.screen import PARTIAL as SCREEN_PARTIAL
from reviewapp.screening.views.screen import REPORT_ACTIONS as ACTIONS
from reviewapp.screening.views.screen import record_label, screen_context

NOT_RETRIEVED = RetrievalStatus.NOT_RETRIEVED.value


@review_view(Capability.SCREEN)
@require_POST
def report_update(request, record_id: int, *, review, membership):
    """One form per action: upload, link, status (e.g. not retrieved), study."""
    record = get_object_or_404(Record, pk=record_id, review=review)
    action = request.POST.get("action", "")
    error = ""
    try:
        if action == "upload":
            fulltext.report_upload(
                membership=membership, record=record, upload=request.FILES.get("file")
            )
        elif action == "link":
            fulltext.report_link(
                membership=membership, record=record, url=request.POST.get("url", "")
            )
        elif action == "status":
            fulltext.report_status_set(
                membership=membership, record=record, status=request.POST.get("status", "")
            )
        elif action == "study":
            try:
                study_id = int(request.POST.get("study") or 0) or None
            except ValueError:
                study_id = -1
            fulltext.report_study_set(
                membership=membership,
                record=record,
                study_id=study_id,
                new_label=request.POST.get("new_label", ""),
            )
        else:
            raise ServiceError(f"Choose one of: {', '.join(ACTIONS)}.", field="action")
    except ServiceError as exc:
        error = exc.message
    left_queue = not error and action == "status" and request.POST.get("status") == NOT_RETRIEVED
    left_message = (
        f"Record {record_label(record)} is marked not retrieved; it leaves the full-text "
        "queue (PRISMA: reports not retrieved)."
    )
    queue_url = reverse("screening:screen", args=[review.slug, Stage.FULL_TEXT])
    if not is_htmx(request):
        if error:
            messages.error(request, error)
        elif left_queue:
            # On to the next record: this one no longer takes a vote.
            messages.success(request, left_message)
            return redirect(queue_url)
        else:
            messages.success(request, "Full text updated.")
        return redirect(f"{queue_url}?record={record.pk}")
    if left_queue:
        # The record leaves the full-text queue: the screening area moves on to the next one
        # rather than leaving a record on screen that no longer takes a vote.
        context = screen_context(request, review, membership, Stage.FULL_TEXT)
        context["notice"] = left_message
        response = render(request, SCREEN_PARTIAL, context)
        response["HX-Retarget"] = "#screen-area"
        response["HX-Reswap"] = "outerHTML"
        return response
    settings = stage_settings_get(review, Stage.FULL_TEXT)
    (panel,) = record_panels(review, Stage.FULL_TEXT, [record.pk], membership, settings)
    return render(
        request,
        "screening/partials/_report_panel.html",
        {
            "review": review,
            "stage": Stage.FULL_TEXT,
            "panel": panel,
            "studies": studies_for_linking(review),
            "report_error": error,
            "report_action": action,
            "report_actions": ACTIONS,
            "max_upload_bytes": django_settings.FULLTEXT_MAX_BYTES,
        },
        status=422 if error else 200,
    )


@review_view(Capability.VIEW)
@require_GET
def report_file(request, report_id: int, file_id: int | None = None, *, review, membership):
    """A report's PDF, to members only; shown inline, never sniffed as anything else.

    Without file_id the current full text; with it, that upload from the report's history.
    """
    report = get_object_or_404(Report, pk=report_id, review=review)
    if file_id is None:
        if not report.file:
            raise Http404("No file was uploaded for this report.")
        stored, name = report.file, report.original_filename
    else:
        version = get_object_or_404(ReportFile, pk=file_id, report=report)
        stored, name = version.file, version.original_filename
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    # FileResponse puts the name in Content-Disposition; cleaned again for names stored before
    # uploads were cleaned.
    name = upload_name_clean(name or stored.name.rsplit("/", 1)[-1], default="full-text.pdf")
    response = FileResponse(
        handle,
        as_attachment=False,
        filename=name,
        content_type=mimetypes.guess_type(name)[0] or "application/pdf",
    )
    response["Content-Type"] = "application/pdf"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
