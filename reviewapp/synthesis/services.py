"""Writes on synthesis: define an analysis and compute it from the final extraction data.

Every computation is stored with its exact inputs and settings, so a later change to the data
shows as a stale result, never a silently different one.
"""

from __future__ import annotations

import json
import logging
import time

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.audit.services import audit_fields, audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.jobs import JobLost, job_claim, job_enqueue
from reviewapp.core.permissions import require
from reviewapp.core.svg import svg_for_inline
from reviewapp.extraction.models import ExtractionForm
from reviewapp.literature.constants import JobStatus
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership
from reviewapp.synthesis.constants import Method, Model
from reviewapp.synthesis.inputs import MEASURES_FOR_GROUP, InputError
from reviewapp.synthesis.models import Analysis, AnalysisResult, AnalysisRun
from reviewapp.synthesis.selectors import (
    analysis_rows,
    analysis_settings,
    inputs_digest,
    outcome_choices,
)
from reviewapp.synthesis.stats.bias import rank_correlation_test, regression_test
from reviewapp.synthesis.stats.io import PoolingInputError, effects_from_rows
from reviewapp.synthesis.stats.pooling import pool
from reviewapp.synthesis.stats.results import clean
from reviewapp.synthesis.stats.sensitivity import trim_and_fill
from reviewapp.synthesis.stats.subgroups import leave_one_out

logger = logging.getLogger(__name__)

FIXED_METHODS = {"FE", "MH", "PETO"}
# The plots a result keeps: (file name, model field). SVGs are drawn with the result; the PNGs,
# which take longer (a 1,000-study forest plot is tens of megapixels), on their first download.
PLOTS = {
    "forest.svg": "forest_svg",
    "funnel.svg": "funnel_svg",
    "forest.png": "forest_png",
    "funnel.png": "funnel_png",
}
DRAWN_WITH_RESULT = ("forest.svg", "funnel.svg")
# Up to this many studies the request that asks for a computation does it itself (well under a
# second); above, the worker does, and the page shows the computation's status meanwhile.
COMPUTE_INLINE_MAX_STUDIES = 100


def _method_check(measure: str, model: str, method: str, hksj: bool) -> str:
    if model not in Model.values:
        raise ServiceError("Choose a common-effect or a random-effects model.", field="model")
    if model == Model.FIXED:
        method = method if method in ("MH",) else "FE"
        if method == "MH" and measure not in ("OR", "RR", "RD"):
            raise ServiceError("Mantel-Haenszel pools OR, RR or RD only.", field="method")
        if hksj:
            raise ServiceError(
                "The HKSJ adjustment applies to random-effects models.", field="hksj"
            )
        return method
    if method not in Method.values or method in (Method.MH, Method.IV):
        raise ServiceError(f"'{method}' is not a tau² estimator.", field="method")
    return method


@transaction.atomic
def analysis_create(
    *,
    membership: Membership,
    name: str,
    outcome_key: str,
    measure: str,
    model: str,
    method: str,
    hksj: bool = False,
    ratio: bool = True,
) -> Analysis:
    """Define an analysis of one outcome (a form's effect group, outcome name and time point)."""
    require(membership, Capability.ANALYSE)
    review = membership.review
    name = name.strip()
    if not name:
        raise ServiceError("Give the analysis a name.", field="name")
    try:
        form_id, group, outcome, time_point = json.loads(outcome_key)
    except (TypeError, ValueError):
        raise ServiceError("Choose an outcome from the list.", field="outcome") from None
    choice = next(
        (
            c
            for c in outcome_choices(review)
            if (c.form_id, c.group, c.outcome, c.time_point)
            == (form_id, group, outcome, time_point)
        ),
        None,
    )
    if choice is None or not ExtractionForm.objects.filter(pk=form_id, review=review).exists():
        raise ServiceError(
            "That outcome has no final extraction data in this review.", field="outcome"
        )
    if measure not in MEASURES_FOR_GROUP.get(choice.group_type, ()):
        raise ServiceError(
            f"{measure} cannot be computed from {choice.group_label} ({choice.group_type} data); "
            f"choose one of {', '.join(choice.measures)}.",
            field="measure",
        )
    method = _method_check(measure, model, method, hksj)
    try:
        with transaction.atomic():
            analysis = Analysis.objects.create(
                review=review,
                name=name,
                outcome=outcome,
                measure=measure,
                model=model,
                method=method,
                hksj=hksj,
                options={
                    "form_id": form_id,
                    "group": group,
                    "time_point": time_point,
                    "ratio": ratio,
                },
                created_by=membership.user,
            )
    except IntegrityError:
        raise ServiceError(f"An analysis called '{name}' already exists.", field="name") from None
    audit_record(
        review=review,
        actor=membership,
        action=Action.ANALYSIS_CREATED,
        target=analysis,
        after=audit_fields(analysis, ANALYSIS_AUDITED),
    )
    return analysis


ANALYSIS_AUDITED = ["name", "outcome", "measure", "model", "method", "hksj", "options"]


def compute(rows: list[dict], analysis: Analysis, *, ratio: bool):
    """Effect sizes and the pooled result of the rows (pure computation, no storage)."""
    effects = effects_from_rows(
        rows, analysis.measure, ratio=ratio, source=f"analysis '{analysis.name}'"
    )
    method = None if analysis.method in ("FE", "IV") else analysis.method
    result = pool(effects, model=analysis.model, method=method, hksj=analysis.hksj)
    return effects, result


def _trim_and_fill(effects, analysis: Analysis) -> dict:
    """metafor's trimfill() (L0) of the analysis's model, in brief; none if it cannot run."""
    try:
        taf = trim_and_fill(
            effects,
            model=analysis.model,
            method=None if analysis.model == Model.FIXED else analysis.method,
        )
    except ValueError:
        return {}
    filled = taf.result
    return {
        "trim_and_fill": clean(
            {
                "estimator": taf.estimator,
                "side": taf.side,
                "k0": taf.k0,
                "se_k0": taf.se_k0,
                "k": filled.k,
                "estimate": filled.estimate,
                "ci_lb": filled.ci_lb,
                "ci_ub": filled.ci_ub,
                "estimate_bt": filled.estimate_bt,
                "ci_lb_bt": filled.ci_lb_bt,
                "ci_ub_bt": filled.ci_ub_bt,
            }
        )
    }


def _plot_draw(name: str, analysis: Analysis, effects, pooled) -> bytes:
    """One plot as stored: SVGs made CSP-safe (reviewapp.core.svg) so they can be served as is."""
    from reviewapp.synthesis.stats.plots import forest_plot, funnel_plot

    kind, fmt = name.split(".")
    if kind == "forest":
        data = forest_plot(pooled, fmt, title=analysis.name)
    else:
        data = funnel_plot(effects, pooled, fmt)
    if fmt == "svg":
        return svg_for_inline(data).encode("utf-8")
    return data


def _plots_store(result: AnalysisResult, names, effects, pooled) -> None:
    """Draw the named plots of a result and record their files on it."""
    analysis = result.analysis
    fields = {}
    for name in names:
        field = PLOTS[name]
        data = _plot_draw(name, analysis, effects, pooled)
        getattr(result, field).save(f"result-{result.pk}-{name}", ContentFile(data), save=False)
        fields[field] = getattr(result, field).name
    AnalysisResult.objects.filter(pk=result.pk).update(**fields)


def analysis_plot_get(*, result: AnalysisResult, name: str) -> bytes:
    """A result's plot from storage; drawn (from the result's own inputs) and kept if missing.

    Results computed before plots were kept, and PNGs, are drawn here once, on first request.
    """
    field = PLOTS[name]
    stored = getattr(result, field)
    if stored:
        try:
            with stored.open("rb") as handle:
                return handle.read()
        except FileNotFoundError:
            logger.warning(
                "plot %s of result %s missing from storage; drawn again", name, result.pk
            )
    analysis = result.analysis
    effects, pooled = compute(
        result.inputs["rows"], analysis, ratio=result.inputs.get("ratio", False)
    )
    _plots_store(result, [name], effects, pooled)
    with getattr(result, field).open("rb") as handle:
        return handle.read()


def analysis_run(*, membership: Membership, analysis: Analysis) -> AnalysisResult:
    """Pool the analysis's current data and store the result with its inputs, settings and plots."""
    stored, effects, pooled = _analysis_compute_store(
        membership=membership, analysis=analysis, plots_now=True
    )
    return stored


def _analysis_compute_store(*, membership: Membership, analysis: Analysis, plots_now: bool):
    """The result stored; its SVG plots drawn too when ``plots_now`` (else marked pending)."""
    require(membership, Capability.ANALYSE)
    if analysis.review_id != membership.review_id:
        raise ServiceError("That analysis belongs to another review.")
    clock = [time.perf_counter()]
    try:
        rows, meta = analysis_rows(analysis)
        clock.append(time.perf_counter())
        effects, result = compute(rows, analysis, ratio=meta["ratio"])
    except (InputError, PoolingInputError) as exc:
        raise ServiceError(str(exc)) from None
    except ValueError as exc:
        raise ServiceError(f"The data cannot be pooled as set up: {exc}") from None
    clock.append(time.perf_counter())
    extra: dict = {}
    if effects.k >= 3 and analysis.method not in ("MH", "PETO"):
        method = "FE" if analysis.model == Model.FIXED else analysis.method
        extra["egger"] = regression_test(effects, method=method, hksj=analysis.hksj).to_dict()
        extra["rank_test"] = rank_correlation_test(effects).to_dict()
        extra.update(_trim_and_fill(effects, analysis))
    clock.append(time.perf_counter())
    if effects.k >= 3:
        loo = leave_one_out(
            effects,
            model=analysis.model,
            method=None if analysis.model == Model.FIXED else analysis.method,
            hksj=analysis.hksj,
        )
        extra["leave_one_out"] = loo.to_dict()["leave_one_out"]
    clock.append(time.perf_counter())
    settings = analysis_settings(analysis)
    stored = AnalysisResult.objects.create(
        analysis=analysis,
        inputs={"rows": rows, **meta},
        inputs_digest=inputs_digest(rows, settings),
        model_settings=settings,
        results={"pooled": result.to_dict(), **extra},
        computed_by=membership.user,
        studies_count=len(rows),
        plots_pending_since=None if plots_now else timezone.now(),
    )
    clock.append(time.perf_counter())
    if plots_now:
        _plots_store(stored, DRAWN_WITH_RESULT, effects, result)
    clock.append(time.perf_counter())
    steps = ("rows", "pool", "bias tests", "leave-one-out", "store", "SVG plots")
    logger.info(
        "analysis %s computed from %d studies in %.2f s: %s",
        analysis.pk,
        len(rows),
        clock[-1] - clock[0],
        ", ".join(
            f"{name} {b - a:.2f} s" for name, a, b in zip(steps, clock[:-1], clock[1:], strict=True)
        ),
    )
    return stored, effects, result


def analysis_compute_request(
    *, membership: Membership, analysis: Analysis, queue: str | None = None
) -> AnalysisResult | AnalysisRun:
    """Compute the analysis now if it is small, otherwise queue it for the worker.

    Returns the stored result, or the queued (or already queued or running) AnalysisRun: asking
    twice while one computation is on its way does not start a second.
    """
    require(membership, Capability.ANALYSE)
    if analysis.review_id != membership.review_id:
        raise ServiceError("That analysis belongs to another review.")
    try:
        rows, _meta = analysis_rows(analysis)
    except InputError as exc:
        raise ServiceError(str(exc)) from None
    if len(rows) <= COMPUTE_INLINE_MAX_STUDIES:
        return analysis_run(membership=membership, analysis=analysis)
    with transaction.atomic():
        # One pending computation per analysis: lock the analysis row while checking.
        Analysis.objects.select_for_update().filter(pk=analysis.pk).first()
        pending = analysis.runs.filter(status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).first()
        if pending is not None:
            return pending
        run = AnalysisRun.objects.create(analysis=analysis, requested_by=membership.user)
        job_enqueue(run, queue=queue)
    return run


def analysis_run_execute(*, run_id: int) -> AnalysisRun:
    """The worker's side of an AnalysisRun: compute, store the result and its plots.

    Idempotent as every job (reviewapp/core/jobs.py): a redelivered task does nothing unless the
    attempt holding the run died; the result, its plots and the run's status commit together,
    so an attempt given up for dead leaves nothing behind.
    """
    claim = job_claim(AnalysisRun, run_id)
    if claim is None:
        return AnalysisRun.objects.get(pk=run_id)
    run = AnalysisRun.objects.select_related("analysis", "analysis__review").get(pk=run_id)
    membership = Membership.objects.filter(
        review=run.analysis.review, user=run.requested_by_id
    ).first()
    if membership is None:
        claim.finish(
            status=JobStatus.FAILED,
            error="The member who asked for this computation has left the review.",
            finished_at=timezone.now(),
        )
        run.refresh_from_db()
        return run
    stored: list[AnalysisResult] = []
    try:
        with claim.heartbeat(), transaction.atomic():
            result, effects, pooled = _analysis_compute_store(
                membership=membership, analysis=run.analysis, plots_now=False
            )
            stored.append(result)
            claim.finish(status=JobStatus.DONE, result=result, finished_at=timezone.now())
    except JobLost:
        logger.warning("analysis run %s was taken over by a later attempt", run_id)
        _files_delete(stored)
    except ServiceError as exc:
        _files_delete(stored)
        claim.finish(status=JobStatus.FAILED, error=exc.message, finished_at=timezone.now())
    except Exception as exc:
        logger.exception("analysis run %s failed", run_id)
        _files_delete(stored)
        AnalysisRun.objects.filter(pk=run_id, claim_token=claim.token).update(
            status=JobStatus.FAILED,
            error=f"The computation stopped on an internal error ({exc.__class__.__name__}); "
            "it can be run again.",
            finished_at=timezone.now(),
        )
        raise
    run.refresh_from_db()
    if run.status == JobStatus.DONE and stored:
        _plots_after(stored[0], effects, pooled)
    return run


def _plots_after(result: AnalysisResult, effects, pooled) -> None:
    """Draw the plots of a result already shown: the SVGs the page links, then the PNGs.

    The result's numbers need not wait for a forest plot of a thousand rows. Best effort: a plot
    still missing (this failed, or the worker died) is drawn on its first request instead.
    """
    started = time.perf_counter()
    try:
        _plots_store(result, DRAWN_WITH_RESULT, effects, pooled)
        AnalysisResult.objects.filter(pk=result.pk).update(plots_pending_since=None)
        svg_s = time.perf_counter() - started
        _plots_store(result, [name for name in PLOTS if name.endswith(".png")], effects, pooled)
        logger.info(
            "analysis result %s: SVG plots stored in %.2f s, PNGs %.2f s later",
            result.pk,
            svg_s,
            time.perf_counter() - started - svg_s,
        )
    except Exception:
        AnalysisResult.objects.filter(pk=result.pk).update(plots_pending_since=None)
        logger.exception(
            "plots of analysis result %s not drawn; left to their first request", result.pk
        )


def _files_delete(results: list[AnalysisResult]) -> None:
    """Remove the plot files of results whose row was rolled back."""
    for result in results:
        for field in PLOTS.values():
            stored = getattr(result, field)
            if stored:
                stored.delete(save=False)
