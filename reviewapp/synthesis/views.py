import io
import json
import zipfile
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from reviewapp.core.errors import ServiceError, form_error_add
from reviewapp.core.permissions import review_view
from reviewapp.literature.constants import JobStatus
from reviewapp.reviews.constants import Capability
from reviewapp.synthesis import services
from reviewapp.synthesis.additions import REPORT_YEAR, ROB
from reviewapp.synthesis.forms import (
    AnalysisForm,
    CumulativeForm,
    MetaRegressionForm,
    RobFormForm,
    SensitivityForm,
    SubgroupForm,
)
from reviewapp.synthesis.inputs import columns_of, metafor_csv
from reviewapp.synthesis.models import Analysis, AnalysisRun
from reviewapp.synthesis.rscript import r_script
from reviewapp.synthesis.selectors import (
    analysis_fields,
    analysis_latest_result,
    analysis_pending_run,
    analysis_staleness,
    outcome_choices,
    rob_forms_usable,
)
from reviewapp.synthesis.stats.plot_text import forest_plot_text, funnel_plot_text

PLOT_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
# The page shows the plots as images; these are the ones it links.
PAGE_PLOTS = ("forest.svg", "funnel.svg")
ROWS_PER_PAGE = 50
# Plots the worker has not stored this long after their result are drawn on request instead (the
# worker that was drawing them has died).
PLOTS_PENDING_MAX = timedelta(minutes=5)


@review_view()
def analysis_list(request, *, review, membership):
    choices = outcome_choices(review)
    form = AnalysisForm(request.POST or None, outcome_choices=choices)
    if request.method == "POST":
        if not membership.can(Capability.ANALYSE):
            raise PermissionDenied("Your role does not allow creating analyses.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                analysis = services.analysis_create(
                    membership=membership,
                    name=data["name"],
                    outcome_key=data["outcome"],
                    measure=data["measure"],
                    model=data["model"],
                    method=data["method"],
                    hksj=data["hksj"],
                    ratio=data["ratio"],
                )
                services.analysis_compute_request(membership=membership, analysis=analysis)
            except ServiceError as exc:
                form_error_add(form, exc)
            else:
                return redirect("synthesis:analysis-detail", review.slug, analysis.pk)
    analyses = Analysis.objects.filter(review=review).order_by("name")
    return render(
        request,
        "synthesis/analysis_list.html",
        {
            "review": review,
            "membership": membership,
            "analyses": analyses,
            "form": form,
            "has_outcomes": bool(choices),
            "can_analyse": membership.can(Capability.ANALYSE),
        },
        status=400 if form.errors else 200,
    )


@review_view()
def analysis_detail(request, analysis_id: int, *, review, membership):
    analysis = get_object_or_404(Analysis, pk=analysis_id, review=review)
    return _detail(request, review, membership, analysis)


def _addition_choices(analysis: Analysis) -> dict[str, list[tuple[str, str]]]:
    """What each addition form offers: the analysis's fields, and risk of bias if assessed."""
    fields = analysis_fields(analysis)
    has_rob = bool(rob_forms_usable(analysis.review))
    everything = [(f.key, f.label) for f in fields]
    ordered = [(f.key, f.label) for f in fields if f.type in services.ORDER_TYPES]
    return {
        "subgroup": everything + ([(ROB, "Overall risk of bias")] if has_rob else []),
        "metareg": everything + [(REPORT_YEAR, "Year of the study's first report")],
        "cumulative": [(REPORT_YEAR, "Year of the study's first report"), *ordered],
    }


def _additions_shown(result) -> list[dict]:
    """The stored additions in the order they were added, their groups in a list (jsonb keeps
    no key order)."""
    if result is None:
        return []
    stored = result.results.get("additions") or {}
    plots = result.results.get("plots") or {}
    shown = []
    for key in sorted(stored, key=int):
        addition = dict(stored[key])
        addition["plot"] = next(
            (name for name in (f"subgroups-{key}.svg", f"cumulative-{key}.svg") if name in plots),
            "",
        )
        if addition.get("kind") == "subgroup" and "groups" in addition:
            members = addition.get("members") or {}
            addition["group_rows"] = [
                {"name": name, "studies": members.get(name, []), **pooled}
                for name, pooled in sorted(addition["groups"].items())
            ]
        shown.append(addition)
    return shown


def _detail(request, review, membership, analysis, *, forms=None, status=200):
    result = analysis_latest_result(analysis)
    run = analysis_pending_run(analysis, result)
    pooled = result.results["pooled"] if result else None
    # Study and leave-one-out rows, one page of each at a time: a 1,000-study table is not read
    # in one go, and the page stays small.
    studies = Paginator(pooled["studies"] if pooled else [], ROWS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    loo_rows = (result.results.get("leave_one_out") or []) if result else []
    loo = Paginator(loo_rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    can_analyse = membership.can(Capability.ANALYSE)
    additions = _additions_shown(result)
    context = {
        "review": review,
        "membership": membership,
        "analysis": analysis,
        "result": result,
        "run": run,
        "running": run is not None and run.status in (JobStatus.QUEUED, JobStatus.RUNNING),
        "plots_pending": result is not None
        and result.plots_pending_since is not None
        and timezone.now() - result.plots_pending_since < PLOTS_PENDING_MAX,
        "pooled": pooled,
        "studies": studies,
        "loo": loo,
        "extra": result.results if result else {},
        # Parts of the result that could not be computed (a refit that did not converge).
        "extra_errors": [
            result.results[key]
            for key in ("egger_error", "trim_and_fill_error", "leave_one_out_error")
            if result and result.results.get(key)
        ],
        "additions": additions,
        "has_sensitivity": any(a.get("kind") == "sensitivity" for a in additions),
        # The plots in words (their text alternatives), from the same stored result.
        "forest_text": forest_plot_text(pooled) if pooled else "",
        "funnel_text": funnel_plot_text(pooled, result.results) if pooled and result else "",
        "stale": analysis_staleness(analysis, result),
        "can_analyse": can_analyse,
    }
    if can_analyse:
        choices = _addition_choices(analysis)
        rob_forms = rob_forms_usable(review)
        forms = forms or {}
        context["forms"] = {
            "subgroup": forms.get("subgroup") or SubgroupForm(choices=choices["subgroup"]),
            "metareg": forms.get("metareg") or MetaRegressionForm(choices=choices["metareg"]),
            "sensitivity": forms.get("sensitivity") or SensitivityForm(),
            "cumulative": forms.get("cumulative") or CumulativeForm(choices=choices["cumulative"]),
        }
        context["has_rob"] = bool(rob_forms)
        if len(rob_forms) > 1:
            context["rob_form"] = forms.get("rob") or RobFormForm(
                initial={"rob_form": analysis.options.get("rob_form_id")},
                choices=[(f.pk, f.name) for f in rob_forms],
            )
        context["form_errors"] = [
            (f.prefix, error) for f in forms.values() for error in _errors_of(f)
        ]
    return render(request, "synthesis/analysis_detail.html", context, status=status)


def _errors_of(form) -> list[str]:
    return [e for errors in form.errors.values() for e in errors]


ADDITION_FORMS = {
    "subgroup": SubgroupForm,
    "metareg": MetaRegressionForm,
    "sensitivity": SensitivityForm,
    "cumulative": CumulativeForm,
}


@review_view(Capability.ANALYSE)
@require_POST
def analysis_addition_add(request, analysis_id: int, kind: str, *, review, membership):
    """Add a subgroup, meta-regression, sensitivity or cumulative analysis; then recompute."""
    analysis = get_object_or_404(Analysis, pk=analysis_id, review=review)
    if kind not in ADDITION_FORMS:
        raise Http404("No such analysis to add.")
    choices = _addition_choices(analysis)
    form = (
        SensitivityForm(request.POST)
        if kind == "sensitivity"
        else ADDITION_FORMS[kind](request.POST, choices=choices[kind])
    )
    if form.is_valid():
        try:
            services.analysis_addition_add(
                membership=membership,
                analysis=analysis,
                kind=kind,
                by=form.cleaned_data.get("by", ""),
                moderators=form.cleaned_data.get("moderators") or [],
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return _recompute(request, review, membership, analysis, "Added")
    return _detail(request, review, membership, analysis, forms={kind: form}, status=400)


@review_view(Capability.ANALYSE)
@require_POST
def analysis_addition_remove(request, analysis_id: int, addition_id: int, *, review, membership):
    analysis = get_object_or_404(Analysis, pk=analysis_id, review=review)
    try:
        services.analysis_addition_remove(
            membership=membership, analysis=analysis, addition_id=addition_id
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("synthesis:analysis-detail", review.slug, analysis.pk)
    return _recompute(request, review, membership, analysis, "Removed")


@review_view(Capability.ANALYSE)
@require_POST
def analysis_rob_form(request, analysis_id: int, *, review, membership):
    """Choose the risk-of-bias form shown beside the studies (when the review has several)."""
    analysis = get_object_or_404(Analysis, pk=analysis_id, review=review)
    form = RobFormForm(request.POST, choices=[(f.pk, f.name) for f in rob_forms_usable(review)])
    if form.is_valid():
        try:
            services.analysis_rob_form_set(
                membership=membership, analysis=analysis, form_id=form.cleaned_data["rob_form"]
            )
        except ServiceError as exc:
            form.add_error("rob_form", exc.message)
        else:
            return _recompute(request, review, membership, analysis, "Risk of bias form chosen")
    return _detail(request, review, membership, analysis, forms={"rob": form}, status=400)


def _recompute(request, review, membership, analysis, done: str):
    """After a change of settings, the result is computed again (by the worker if large)."""
    analysis.refresh_from_db()
    try:
        outcome = services.analysis_compute_request(membership=membership, analysis=analysis)
    except ServiceError as exc:
        messages.error(request, f"{done}; the analysis cannot be computed: {exc.message}")
    else:
        if isinstance(outcome, AnalysisRun):
            messages.success(request, f"{done}; computing, this page shows it when done.")
        else:
            messages.success(request, f"{done} and recomputed.")
    return redirect("synthesis:analysis-detail", review.slug, analysis.pk)


@review_view(Capability.ANALYSE)
@require_POST
def analysis_rerun(request, analysis_id: int, *, review, membership):
    analysis = get_object_or_404(Analysis, pk=analysis_id, review=review)
    try:
        outcome = services.analysis_compute_request(membership=membership, analysis=analysis)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        if isinstance(outcome, AnalysisRun):
            messages.success(
                request, "Computing from the current data; this page shows it when done."
            )
        else:
            messages.success(request, "Recomputed from the current data.")
    return redirect("synthesis:analysis-detail", review.slug, analysis.pk)


@review_view()
def analysis_plot(request, analysis_id: int, name: str, *, review, membership):
    """A plot of the latest result, as an image for the analysis page (any member sees the page).

    Served from storage; the page adds the result's id to the address, so a browser may keep it.
    """
    analysis = get_object_or_404(Analysis, pk=analysis_id, review=review)
    result = analysis_latest_result(analysis)
    if result is None:
        raise Http404("This analysis has no result yet.")
    if name in PAGE_PLOTS:
        data = services.analysis_plot_get(result=result, name=name)
    else:
        # A subgroup analysis's or cumulative analysis's plot, stored with the result.
        found = services.addition_plot_get(result=result, name=name)
        if found is None:
            raise Http404("No such plot.")
        data = found
    response = HttpResponse(data, content_type=PLOT_TYPES[name.split(".")[1]])
    response["Cache-Control"] = "private, max-age=86400"
    return response


@review_view(Capability.EXPORT)
def analysis_download(request, analysis_id: int, what: str, *, review, membership):
    analysis = get_object_or_404(Analysis, pk=analysis_id, review=review)
    result = analysis_latest_result(analysis, with_inputs=True)
    if result is None:
        raise Http404("This analysis has no result yet.")
    stem = f"{review.slug}-analysis-{analysis.pk}"
    if what in services.PLOTS:
        fmt = what.split(".")[1]
        data = services.analysis_plot_get(result=result, name=what)
        response = HttpResponse(data, content_type=PLOT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{stem}-{what}"'
        return response
    if what == "result.json":
        payload = {
            "analysis": analysis.name,
            "settings": result.model_settings,
            "inputs": result.inputs,
            "results": result.results,
            "computed_at": result.computed_at.isoformat(),
        }
        response = HttpResponse(json.dumps(payload, indent=2), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{stem}.json"'
        return response
    if what == "metafor.zip":
        rows = result.inputs["rows"]
        script = r_script(
            title=f"{review.title}: {analysis.name}",
            csv_name="analysis.csv",
            measure=analysis.measure,
            model=analysis.model,
            method=analysis.method,
            hksj=analysis.hksj,
            columns=columns_of(rows),
            ratio_gen=result.inputs.get("ratio", False),
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("analysis.csv", metafor_csv(rows))
            archive.writestr("analysis.R", script)
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{stem}-metafor.zip"'
        return response
    raise Http404("No such download.")
