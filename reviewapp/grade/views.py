"""GRADE pages: an analysis's certainty (each domain's proposal beside the team's judgement) and
the review's summary-of-findings table with its downloads. Members who may analyse judge; every
member reads; downloads as every export."""

from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from reviewapp.core.errors import ServiceError, form_error_add
from reviewapp.core.htmx import is_htmx
from reviewapp.core.permissions import review_view
from reviewapp.core.spreadsheet import neutralise
from reviewapp.grade import services
from reviewapp.grade.constants import Domain
from reviewapp.grade.documents import sof_docx
from reviewapp.grade.forms import AssessmentForm, BaselineForm
from reviewapp.grade.selectors import SOF_HEADER, grading_of, sof_rows
from reviewapp.reviews.constants import Capability
from reviewapp.riskofbias.selectors import rob_forms
from reviewapp.synthesis.models import Analysis

SOF_FORMATS = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "csv": "text/csv; charset=utf-8",
}
PAGE = "grade/assessment_detail.html"
DOMAINS_PARTIAL = "grade/partials/_domains.html"


def _context(review, membership, analysis, *, form=None, domain_errors=None, posted=None):
    grading = grading_of(analysis)
    numbers = grading.numbers
    form = form or _settings_form(review, grading, None)
    posted = posted or {}
    for row in grading.rows:
        row.error = (domain_errors or {}).get(row.key, "")
        if posted.get("domain") == row.key:
            row.shown_judgement = posted.get("judgement", "")
            row.shown_reason = posted.get("reason", "")
    return {
        "review": review,
        "membership": membership,
        "analysis": analysis,
        "grading": grading,
        "numbers": numbers,
        "form": form,
        "can_judge": membership.can(Capability.ANALYSE),
    }


def _settings_form(review, grading, data):
    numbers = grading.numbers
    return AssessmentForm(
        data,
        assessment=grading.assessment,
        rob_forms=rob_forms(review),
        ratio_generic=bool(numbers and numbers.ratio and numbers.measure == "GEN"),
    )


@review_view()
def assessment_detail(request, analysis_id: int, *, review, membership):
    """The GRADE page of one analysis; a POST saves the assessment's settings."""
    analysis = get_object_or_404(Analysis, pk=analysis_id, review=review)
    form = None
    if request.method == "POST":
        if not membership.can(Capability.ANALYSE):
            raise PermissionDenied("Your role does not allow judging certainty.")
        form = _settings_form(review, grading_of(analysis), request.POST)
        data = request.POST
        try:
            services.assessment_settings_save(
                membership=membership,
                analysis=analysis,
                design=data.get("design", ""),
                rob_form_id=data.get("rob_form") or None,
                baseline_per_1000=data.get("baseline_per_1000"),
                baseline_source=data.get("baseline_source", ""),
                ratio_kind=data.get("ratio_kind", ""),
                rrr=data.get("rrr", "") or "0.25",
                threshold_low=data.get("threshold_low"),
                threshold_high=data.get("threshold_high"),
                participants=data.get("participants"),
                comments=data.get("comments", ""),
            )
        except ServiceError as exc:
            form.is_valid()
            form_error_add(form, exc)
        else:
            messages.success(request, "Saved; the proposals below use these settings.")
            return redirect("grade:assessment", review.slug, analysis.pk)
    context = _context(review, membership, analysis, form=form)
    return render(request, PAGE, context, status=422 if form is not None else 200)


@review_view(Capability.ANALYSE)
@require_POST
def domain_save(request, analysis_id: int, domain: str, *, review, membership):
    """Confirm or change one domain. htmx gets the domains back (the certainty and rating up
    follow from every domain), or its refusal as text beside the control (static/js/app.js)."""
    analysis = get_object_or_404(Analysis, pk=analysis_id, review=review)
    if domain not in Domain.values:
        raise Http404("No such GRADE domain.")
    try:
        services.domain_judge(
            membership=membership,
            analysis=analysis,
            domain=domain,
            judgement=request.POST.get("judgement", ""),
            reason=request.POST.get("reason", ""),
        )
    except ServiceError as exc:
        if is_htmx(request):
            return HttpResponse(exc.message, status=422, content_type="text/plain; charset=utf-8")
        context = _context(
            review,
            membership,
            analysis,
            domain_errors={domain: exc.message},
            posted={"domain": domain, **request.POST.dict()},
        )
        return render(request, PAGE, context, status=422)
    if is_htmx(request):
        return render(request, DOMAINS_PARTIAL, _context(review, membership, analysis))
    messages.success(request, f"{Domain(domain).label}: judgement saved.")
    return redirect("grade:assessment", review.slug, analysis.pk)


@review_view()
def sof_table(request, *, review, membership):
    """The review's summary-of-findings table; who may analyse sets each row's assumed risk."""
    errors: dict[int, BaselineForm] = {}
    if request.method == "POST":
        if not membership.can(Capability.ANALYSE):
            raise PermissionDenied("Your role does not allow changing the table.")
        analysis = get_object_or_404(Analysis, pk=request.POST.get("analysis") or 0, review=review)
        prefix = f"a{analysis.pk}"
        form = BaselineForm(request.POST, prefix=prefix)
        try:
            services.assessment_baseline_set(
                membership=membership,
                analysis=analysis,
                baseline_per_1000=request.POST.get(f"{prefix}-baseline_per_1000"),
                baseline_source=request.POST.get(f"{prefix}-baseline_source", ""),
            )
        except ServiceError as exc:
            form.is_valid()
            form_error_add(form, exc)
            errors[analysis.pk] = form
        else:
            messages.success(request, f"{analysis.name}: assumed risk saved.")
            return redirect("grade:sof", review.slug)
    rows = sof_rows(review)
    for row in rows:
        assessment = row.grading.assessment
        row.form = errors.get(row.analysis.pk) or BaselineForm(
            prefix=f"a{row.analysis.pk}",
            initial={
                "baseline_per_1000": f"{assessment.baseline_per_1000:g}"
                if assessment.baseline_per_1000 is not None
                else "",
                "baseline_source": assessment.baseline_source,
            },
        )
    ungraded = list(
        Analysis.objects.filter(review=review, grade_assessment__isnull=True).order_by("name")
    )
    return render(
        request,
        "grade/sof_table.html",
        {
            "review": review,
            "membership": membership,
            "rows": rows,
            "has_notes": any(row.reasons for row in rows),
            "ungraded": ungraded,
            "can_judge": membership.can(Capability.ANALYSE),
            "can_export": membership.can(Capability.EXPORT),
        },
        status=422 if errors else 200,
    )


@review_view(Capability.EXPORT)
def sof_download(request, sof_format: str, *, review, membership):
    if sof_format not in SOF_FORMATS:
        raise Http404("No such download.")
    rows = sof_rows(review)
    if sof_format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=SOF_HEADER)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: neutralise(value) for key, value in row.as_dict().items()})
        data: bytes = buffer.getvalue().encode("utf-8")
    else:
        data = sof_docx(review, rows)
    response = HttpResponse(data, content_type=SOF_FORMATS[sof_format])
    response["Content-Disposition"] = (
        f'attachment; filename="{review.slug}-summary-of-findings.{sof_format}"'
    )
    return response
