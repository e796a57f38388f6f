"""Risk-of-bias pages: the tools a review uses with each study's consensus judgements, the
figures and the download of every judgement. Assessing, comparing and the consensus are the
extraction pages (a risk-of-bias tool is an extraction form of a special kind)."""

from __future__ import annotations

import io
from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import review_view
from reviewapp.extraction import exports
from reviewapp.extraction.models import ExtractionForm
from reviewapp.reviews.constants import Capability
from reviewapp.riskofbias.algorithms import JUDGEMENTS, TOOLS
from reviewapp.riskofbias.builtin import PER_RESULT, TOOL_CHOICES
from reviewapp.riskofbias.figures import SYMBOLS, summary_plot, traffic_light_plot
from reviewapp.riskofbias.selectors import (
    JUDGEMENTS_HEADER,
    analysis_weights,
    figure_rows,
    judgement_rows,
    rob_forms,
    rob_table,
    tool_domains,
    tool_levels,
)
from reviewapp.riskofbias.services import rob_form_create

FIGURES: dict[str, Callable[..., bytes]] = {
    "traffic-light": traffic_light_plot,
    "summary": summary_plot,
}
CONTENT_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


@review_view(Capability.VIEW)
def overview(request, *, review, membership):
    tools = []
    for form in rob_forms(review):
        tools.append(
            {
                "form": form,
                "domains": tool_domains(form.tool),
                "rows": rob_table(form, membership),
                "has_figures": form.tool in TOOLS,
            }
        )
    return render(
        request,
        "riskofbias/overview.html",
        {
            "review": review,
            "membership": membership,
            "tools": tools,
            "tool_choices": TOOL_CHOICES.items(),
            "per_result": sorted(PER_RESULT),
            "may_manage": membership.can(Capability.MANAGE_REVIEW),
            "may_assess": membership.can(Capability.EXTRACT),
            # Only the levels the review's tools use; moderate and serious are ROBINS-I's.
            "analyses": list(review.analyses.filter(results__isnull=False).distinct()),
            "legend": [
                (SYMBOLS[k], JUDGEMENTS[k], k)
                for k in SYMBOLS
                if any(k in tool_levels(t["form"].tool) for t in tools)
            ],
        },
    )


@review_view(Capability.MANAGE_REVIEW)
@require_POST
def form_create(request, *, review, membership):
    try:
        assessors = int(request.POST.get("assessors", "2"))
    except ValueError:
        assessors = 0
    try:
        form = rob_form_create(
            membership=membership,
            tool=request.POST.get("tool", ""),
            result=request.POST.get("result", ""),
            assessors=assessors,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Added '{form.name}'. Assessors can now assess each study.")
    return redirect("riskofbias:overview", review.slug)


@review_view(Capability.VIEW)
def figure(request, rob_form_id: int, figure: str, *, review, membership):
    """The traffic-light table or the summary bar chart of a form's consensus judgements."""
    form = get_object_or_404(ExtractionForm, pk=rob_form_id, review=review)
    fmt = request.GET.get("format", "svg")
    if figure not in FIGURES or form.tool not in TOOLS or fmt not in CONTENT_TYPES:
        raise Http404("No such figure.")
    weights = None
    if request.GET.get("analysis", "").isdigit():
        weights = analysis_weights(review, int(request.GET["analysis"]))
        if not weights:
            raise Http404("That analysis has no result to weight by.")
    content = FIGURES[figure](
        figure_rows(form, weights),
        tool_domains(form.tool),
        tool_levels(form.tool),
        fmt=fmt,
        title=form.name,
    )
    response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
    if request.GET.get("download"):
        response["Content-Disposition"] = (
            f'attachment; filename="{review.slug}-rob-{form.pk}-{figure}.{fmt}"'
        )
    return response


@review_view(Capability.EXPORT)
def judgements_download(request, *, review, membership):
    """Every judgement the member may see, with the answers and support text: CSV or XLSX."""
    fmt = request.GET.get("format", "csv")
    rows = judgement_rows(review, membership)
    if fmt == "xlsx":
        out = io.BytesIO()
        sheet = exports.Sheet(
            "Risk of bias",
            JUDGEMENTS_HEADER,
            ([row.get(h, "") for h in JUDGEMENTS_HEADER] for row in rows),
        )
        exports.write_xlsx(out, [sheet])
        response = HttpResponse(
            out.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    elif fmt == "csv":
        response = StreamingHttpResponse(
            exports.csv_stream(JUDGEMENTS_HEADER, rows), content_type="text/csv; charset=utf-8"
        )
    else:
        raise Http404("Choose csv or xlsx.")
    response["Content-Disposition"] = f'attachment; filename="{review.slug}-risk-of-bias.{fmt}"'
    return response
