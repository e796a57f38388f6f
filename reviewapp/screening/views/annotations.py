"""The PDF viewer's annotations (static/js/pdfviewer.js): read, add, change and delete, as JSON.

Every answer is JSON, a refusal included ({"error": "..."} with 403 or 422), since the viewer
shows the message beside the selection it concerns.
"""

from __future__ import annotations

import json

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_http_methods, require_POST

from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import review_view
from reviewapp.extraction.models import ExtractionForm
from reviewapp.extraction.selectors import form_latest_version
from reviewapp.reviews.constants import Capability
from reviewapp.screening.annotations import (
    annotation_create,
    annotation_delete,
    annotation_json,
    annotation_update,
    annotations_for_file,
    field_choices,
    may_annotate,
)
from reviewapp.screening.models import Annotation, ReportFile


def _file_or_404(review, report_id: int, file_id: int) -> ReportFile:
    return get_object_or_404(
        ReportFile.objects.select_related("report"),
        pk=file_id,
        report_id=report_id,
        report__review=review,
    )


def _labels(annotations) -> dict[str, str]:
    labels: dict[str, str] = {}
    for form in {a.form for a in annotations if a.form is not None}:
        version = form_latest_version(form)
        labels.update(field_choices(version.definition if version else {}))
    return labels


@review_view(Capability.VIEW)
@require_http_methods(["GET", "POST"])
def report_annotations(request, report_id: int, file_id: int, *, review, membership):
    """GET: the annotations of one uploaded PDF this member may see. POST: add one."""
    report_file = _file_or_404(review, report_id, file_id)
    if request.method == "POST":
        form = None
        if request.POST.get("form"):
            form = ExtractionForm.objects.filter(
                pk=request.POST["form"] if request.POST["form"].isdigit() else -1, review=review
            ).first()
            if form is None:
                return JsonResponse(
                    {"error": "That extraction form is not in this review."}, status=422
                )
        try:
            rects = json.loads(request.POST.get("rects") or "[]")
            page = int(request.POST.get("page") or 0)
        except ValueError:
            return JsonResponse(
                {"error": "The passage's page or place was not understood."}, status=422
            )
        try:
            annotation = annotation_create(
                membership=membership,
                report_file=report_file,
                page=page,
                quote=request.POST.get("quote", ""),
                rects=rects,
                comment=request.POST.get("comment", ""),
                form=form,
                field_key=request.POST.get("field_key", "") if form else "",
            )
        except ServiceError as exc:
            status = 403 if not may_annotate(membership) else 422
            return JsonResponse({"error": exc.message, "field": exc.field}, status=status)
        return JsonResponse(
            {"annotation": annotation_json(annotation, membership, _labels([annotation]))},
            status=201,
        )
    annotations = annotations_for_file(membership, report_file)
    labels = _labels(annotations)
    return JsonResponse(
        {
            "annotations": [annotation_json(a, membership, labels) for a in annotations],
            "can_annotate": may_annotate(membership),
        }
    )


def _own_or_404(review, membership, report_id, file_id, annotation_id) -> Annotation:
    # Another member's annotation is a 404, like anything a member may not see.
    return get_object_or_404(
        Annotation.objects.select_related("report_file", "author", "form"),
        pk=annotation_id,
        report_file_id=file_id,
        report_file__report_id=report_id,
        review=review,
        author_id=membership.user_id,
    )


@review_view(Capability.VIEW)
@require_POST
def annotation_edit(
    request, report_id: int, file_id: int, annotation_id: int, *, review, membership
):
    """Change the comment of one's own annotation."""
    annotation = _own_or_404(review, membership, report_id, file_id, annotation_id)
    try:
        annotation_update(
            membership=membership, annotation=annotation, comment=request.POST.get("comment", "")
        )
    except ServiceError as exc:
        return JsonResponse({"error": exc.message, "field": exc.field}, status=422)
    return JsonResponse(
        {"annotation": annotation_json(annotation, membership, _labels([annotation]))}
    )


@review_view(Capability.VIEW)
@require_POST
def annotation_remove(
    request, report_id: int, file_id: int, annotation_id: int, *, review, membership
):
    """Delete one's own annotation."""
    annotation = _own_or_404(review, membership, report_id, file_id, annotation_id)
    try:
        annotation_delete(membership=membership, annotation=annotation)
    except ServiceError as exc:
        return JsonResponse({"error": exc.message}, status=422)
    return JsonResponse({"deleted": annotation_id})
