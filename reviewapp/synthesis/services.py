"""Writes on synthesis: define an analysis and compute it from the final extraction data.

Every computation is stored with its exact inputs and settings, so a later change to the data
shows as a stale result, never a silently different one.
"""

from __future__ import annotations

import json
import logging
import time

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
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
from reviewapp.synthesis.additions import (
    REPORT_YEAR,
    ROB,
    SPEC_KINDS,
    Computed,
    StudyData,
    additions_compute,
)
from reviewapp.synthesis.constants import Method, Model
from reviewapp.synthesis.inputs import MEASURES_FOR_GROUP, InputError
from reviewapp.synthesis.models import Analysis, AnalysisResult, AnalysisRun, plot_path
from reviewapp.synthesis.selectors import (
    analysis_fields,
    analysis_rows,
    analysis_settings,
    analysis_study_data,
    inputs_digest,
    outcome_choices,
    rob_forms_usable,
    study_data_read,
    study_data_stored,
)
from reviewapp.synthesis.stats.bias import rank_correlation_test, regression_test
from reviewapp.synthesis.stats.io import PoolingInputError, effects_from_rows
from reviewapp.synthesis.stats.pooling import pool
from reviewapp.synthesis.stats.results import clean
from reviewapp.synthesis.stats.sensitivity import trim_and_fill
from reviewapp.synthesis.stats.subgroups import leave_one_out
from reviewapp.synthesis.stats.tau2 import ConvergenceError

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
    except ConvergenceError as exc:
        # metafor's trimfill() stops here too; the main result stands, the page says why.
        return {"trim_and_fill_error": f"Trim-and-fill could not be computed: {exc}"}
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


def rob_columns(data: StudyData):
    """The risk-of-bias columns of a forest plot, or None when no study has a consensus."""
    from reviewapp.synthesis.stats.plots import RobColumns

    if not data.rob:
        return None
    return RobColumns(
        domains=data.rob_domains,
        judgements={
            label: (rob.get("domains") or [], rob.get("overall")) for label, rob in data.rob.items()
        },
        title=f"Risk of bias: {data.rob_form}",
    )


def _plot_draw(name: str, analysis: Analysis, effects, pooled, data: StudyData | None) -> bytes:
    """One plot as stored: SVGs made CSP-safe (reviewapp.core.svg) so they can be served as is."""
    from reviewapp.synthesis.stats.plots import forest_plot, funnel_plot

    kind, fmt = name.split(".")
    if kind == "forest":
        rob = rob_columns(data) if data is not None else None
        drawn = forest_plot(pooled, fmt, title=analysis.name, rob=rob)
    else:
        drawn = funnel_plot(effects, pooled, fmt)
    if fmt == "svg":
        return svg_for_inline(drawn).encode("utf-8")
    return drawn


def _plots_store(result: AnalysisResult, names, effects, pooled) -> None:
    """Draw the named plots of a result and record their files on it."""
    analysis = result.analysis
    study_data = study_data_read(result.inputs.get("study_data"))
    fields = {}
    for name in names:
        field = PLOTS[name]
        data = _plot_draw(name, analysis, effects, pooled, study_data)
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
    except ConvergenceError as exc:
        raise ServiceError(
            f"The data cannot be pooled as set up: {exc} Another estimator of tau² "
            "(DL, PM or ML) may converge on these studies."
        ) from None
    clock.append(time.perf_counter())
    extra: dict = {}
    # The parts below refit the model on other data (weighted regression, trimmed or
    # leave-one-out subsets). An iterative estimator can fail there though it converged on all
    # the studies; the main result stands and the page says which part is missing and why.
    if effects.k >= 3 and analysis.method not in ("MH", "PETO"):
        method = "FE" if analysis.model == Model.FIXED else analysis.method
        try:
            extra["egger"] = regression_test(effects, method=method, hksj=analysis.hksj).to_dict()
        except ConvergenceError as exc:
            extra["egger_error"] = f"Egger's regression test could not be computed: {exc}"
        extra["rank_test"] = rank_correlation_test(effects).to_dict()
        extra.update(_trim_and_fill(effects, analysis))
    clock.append(time.perf_counter())
    if effects.k >= 3:
        try:
            loo = leave_one_out(
                effects,
                model=analysis.model,
                method=None if analysis.model == Model.FIXED else analysis.method,
                hksj=analysis.hksj,
            )
        except ConvergenceError as exc:
            extra["leave_one_out_error"] = f"Leave-one-out could not be computed: {exc}"
        else:
            extra["leave_one_out"] = loo.to_dict()["leave_one_out"]
    clock.append(time.perf_counter())
    settings = analysis_settings(analysis)
    study_data = analysis_study_data(analysis, rows)
    computed = additions_compute(
        effects, analysis.options.get("additions") or [], study_data, settings
    )
    if computed:
        extra["additions"] = {key: c.result for key, c in computed.items()}
    stored_data = study_data_stored(study_data)
    clock.append(time.perf_counter())
    stored = AnalysisResult.objects.create(
        analysis=analysis,
        inputs={"rows": rows, **meta, **({"study_data": stored_data} if stored_data else {})},
        inputs_digest=inputs_digest(rows, settings, stored_data),
        model_settings=settings,
        results={"pooled": result.to_dict(), **extra},
        computed_by=membership.user,
        studies_count=len(rows),
        plots_pending_since=None if plots_now else timezone.now(),
    )
    _addition_plots_store(stored, computed, study_data)
    clock.append(time.perf_counter())
    if plots_now:
        _plots_store(stored, DRAWN_WITH_RESULT, effects, result)
    clock.append(time.perf_counter())
    steps = (
        "rows",
        "pool",
        "bias tests",
        "leave-one-out",
        "additions",
        "store and their plots",
        "SVG plots",
    )
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
        for path in (result.results.get("plots") or {}).values():
            default_storage.delete(path)


def _addition_plots_store(
    result: AnalysisResult, computed: dict[str, Computed], data: StudyData
) -> None:
    """The additions' plots, drawn once with the result and kept beside its own: a subgroup
    analysis's forest plot in blocks (with the risk-of-bias columns), a cumulative plot."""
    from reviewapp.synthesis.stats.plots import cumulative_plot, forest_plot

    plots: dict[str, str] = {}
    for key, c in computed.items():
        if c.subgroups is not None:
            name = f"subgroups-{key}.svg"
            drawn = forest_plot(c.subgroups, "svg", title=c.result["title"], rob=rob_columns(data))
        elif c.cumulative is not None:
            name = f"cumulative-{key}.svg"
            drawn = cumulative_plot(c.cumulative, "svg", title=c.result["title"])
        else:
            continue
        path = plot_path(result, f"result-{result.pk}-{name}")
        plots[name] = default_storage.save(path, ContentFile(svg_for_inline(drawn).encode("utf-8")))
    if plots:
        result.results["plots"] = plots
        AnalysisResult.objects.filter(pk=result.pk).update(results=result.results)


def addition_plot_get(*, result: AnalysisResult, name: str) -> bytes | None:
    """An addition's stored plot, or None if the result has no such plot."""
    path = (result.results.get("plots") or {}).get(name)
    if not path:
        return None
    try:
        with default_storage.open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        logger.warning("plot %s of result %s missing from storage", name, result.pk)
        return None


@transaction.atomic
def analysis_addition_add(
    *,
    membership: Membership,
    analysis: Analysis,
    kind: str,
    by: str = "",
    moderators: list[str] | tuple[str, ...] = (),
) -> dict:
    """Add a subgroup analysis, meta-regression, sensitivity or cumulative analysis to an
    analysis (kept in its options; the next computation computes it). Returns the addition.

    Refuses a variable the analysis's form does not have, and an addition it already has.
    """
    require(membership, Capability.ANALYSE)
    if analysis.review_id != membership.review_id:
        raise ServiceError("That analysis belongs to another review.")
    analysis = Analysis.objects.select_for_update().get(pk=analysis.pk)
    if kind not in SPEC_KINDS:
        raise ServiceError("Choose what to add.", field="kind")
    fields = {f.key: f for f in analysis_fields(analysis)}
    has_rob = bool(rob_forms_usable(analysis.review))
    spec: dict = {"kind": kind}
    if kind == "subgroup":
        if by == ROB and not has_rob:
            raise ServiceError("This review has no risk-of-bias form yet.", field="by")
        if by != ROB and by not in fields:
            raise ServiceError("Choose the field that defines the subgroups.", field="by")
        spec["by"] = by
    elif kind == "cumulative":
        if by != REPORT_YEAR and (by not in fields or fields[by].type not in ORDER_TYPES):
            raise ServiceError(
                "Choose the year of the first report, or a number or date field.", field="by"
            )
        spec["by"] = by
    elif kind == "metareg":
        chosen = list(dict.fromkeys(m for m in moderators if m))
        if not chosen:
            raise ServiceError("Choose one or more moderators.", field="moderators")
        unknown = [m for m in chosen if m != REPORT_YEAR and m not in fields]
        if unknown:
            raise ServiceError("Choose moderators from the list.", field="moderators")
        spec["moderators"] = chosen
    elif not has_rob:
        raise ServiceError(
            "Excluding studies at high risk of bias needs a risk-of-bias form.", field="kind"
        )
    additions = list(analysis.options.get("additions") or [])
    if any({k: v for k, v in a.items() if k != "id"} == spec for a in additions):
        raise ServiceError("The analysis has that already.", field="kind")
    before = audit_fields(analysis, ANALYSIS_AUDITED)
    spec["id"] = max((a["id"] for a in additions), default=0) + 1
    analysis.options = {**analysis.options, "additions": [*additions, spec]}
    _addition_check(analysis, spec)
    analysis.save(update_fields=["options", "updated_at"])
    _analysis_changed_audit(membership, analysis, before)
    return spec


ORDER_TYPES = ("integer", "decimal", "date")


def _analysis_changed_audit(membership: Membership, analysis: Analysis, before: dict) -> None:
    # The settings services all audit the same fields under the same action: one place, so
    # that a field added to ANALYSIS_AUDITED is compared in every one of them.
    audit_record(
        review=analysis.review,
        actor=membership,
        action=Action.ANALYSIS_CHANGED,
        target=analysis,
        before=before,
        after=audit_fields(analysis, ANALYSIS_AUDITED),
    )


def _addition_check(analysis: Analysis, spec: dict) -> None:
    """Refuse an addition the current data cannot feed, with the computation's own message
    (which names the studies and the field). Data the main analysis cannot pool are left to
    its page, which says so."""
    try:
        rows, meta = analysis_rows(analysis)
        effects, _pooled = compute(rows, analysis, ratio=meta["ratio"])
    except (InputError, PoolingInputError, ValueError):
        return
    data = analysis_study_data(analysis, rows)
    computed = additions_compute(effects, [spec], data, analysis_settings(analysis))
    error = computed[str(spec["id"])].result.get("error")
    if error:
        field = {"metareg": "moderators", "sensitivity": "kind"}.get(spec["kind"], "by")
        raise ServiceError(error, field=field)


@transaction.atomic
def analysis_addition_remove(
    *, membership: Membership, analysis: Analysis, addition_id: int
) -> None:
    """Take an addition off an analysis (its past results stay with them)."""
    require(membership, Capability.ANALYSE)
    if analysis.review_id != membership.review_id:
        raise ServiceError("That analysis belongs to another review.")
    analysis = Analysis.objects.select_for_update().get(pk=analysis.pk)
    additions = list(analysis.options.get("additions") or [])
    kept = [a for a in additions if a.get("id") != addition_id]
    if len(kept) == len(additions):
        raise ServiceError("That addition was already removed.")
    before = audit_fields(analysis, ANALYSIS_AUDITED)
    analysis.options = {**analysis.options, "additions": kept}
    analysis.save(update_fields=["options", "updated_at"])
    _analysis_changed_audit(membership, analysis, before)


@transaction.atomic
def analysis_rob_form_set(
    *, membership: Membership, analysis: Analysis, form_id: int | None
) -> None:
    """Which risk-of-bias form the analysis shows beside its studies and uses (None: the
    review's only one)."""
    require(membership, Capability.ANALYSE)
    if analysis.review_id != membership.review_id:
        raise ServiceError("That analysis belongs to another review.")
    if form_id is not None and form_id not in {f.pk for f in rob_forms_usable(analysis.review)}:
        raise ServiceError("Choose one of this review's risk-of-bias forms.", field="rob_form")
    analysis = Analysis.objects.select_for_update().get(pk=analysis.pk)
    before = audit_fields(analysis, ANALYSIS_AUDITED)
    options = {k: v for k, v in analysis.options.items() if k != "rob_form_id"}
    if form_id is not None:
        options["rob_form_id"] = form_id
    analysis.options = options
    analysis.save(update_fields=["options", "updated_at"])
    _analysis_changed_audit(membership, analysis, before)
