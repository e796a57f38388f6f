"""Writes on synthesis: define an analysis and compute it from the final extraction data.

Every computation is stored with its exact inputs and settings, so a later change to the data
shows as a stale result, never a silently different one.
"""

from __future__ import annotations

import json

from django.db import IntegrityError, transaction

from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import require
from reviewapp.extraction.models import ExtractionForm
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership
from reviewapp.synthesis.constants import Method, Model
from reviewapp.synthesis.inputs import MEASURES_FOR_GROUP, InputError
from reviewapp.synthesis.models import Analysis, AnalysisResult
from reviewapp.synthesis.selectors import (
    analysis_rows,
    analysis_settings,
    inputs_digest,
    outcome_choices,
)
from reviewapp.synthesis.stats.bias import rank_correlation_test, regression_test
from reviewapp.synthesis.stats.io import PoolingInputError, effects_from_rows
from reviewapp.synthesis.stats.pooling import pool
from reviewapp.synthesis.stats.subgroups import leave_one_out

FIXED_METHODS = {"FE", "MH", "PETO"}


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
            return Analysis.objects.create(
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


def compute(rows: list[dict], analysis: Analysis, *, ratio: bool):
    """Effect sizes and the pooled result of the rows (pure computation, no storage)."""
    effects = effects_from_rows(
        rows, analysis.measure, ratio=ratio, source=f"analysis '{analysis.name}'"
    )
    method = None if analysis.method in ("FE", "IV") else analysis.method
    result = pool(effects, model=analysis.model, method=method, hksj=analysis.hksj)
    return effects, result


def analysis_run(*, membership: Membership, analysis: Analysis) -> AnalysisResult:
    """Pool the analysis's current data and store the result with its inputs and settings."""
    require(membership, Capability.ANALYSE)
    if analysis.review_id != membership.review_id:
        raise ServiceError("That analysis belongs to another review.")
    try:
        rows, meta = analysis_rows(analysis)
        effects, result = compute(rows, analysis, ratio=meta["ratio"])
    except (InputError, PoolingInputError) as exc:
        raise ServiceError(str(exc)) from None
    except ValueError as exc:
        raise ServiceError(f"The data cannot be pooled as set up: {exc}") from None
    extra: dict = {}
    if effects.k >= 3 and analysis.method not in ("MH", "PETO"):
        method = "FE" if analysis.model == Model.FIXED else analysis.method
        extra["egger"] = regression_test(effects, method=method, hksj=analysis.hksj).to_dict()
        extra["rank_test"] = rank_correlation_test(effects).to_dict()
    if effects.k >= 3:
        loo = leave_one_out(
            effects,
            model=analysis.model,
            method=None if analysis.model == Model.FIXED else analysis.method,
            hksj=analysis.hksj,
        )
        extra["leave_one_out"] = loo.to_dict()["leave_one_out"]
    settings = analysis_settings(analysis)
    return AnalysisResult.objects.create(
        analysis=analysis,
        inputs={"rows": rows, **meta},
        inputs_digest=inputs_digest(rows, settings),
        model_settings=settings,
        results={"pooled": result.to_dict(), **extra},
        computed_by=membership.user,
    )
