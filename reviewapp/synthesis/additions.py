"""The analyses a reviewer adds to a pooled outcome: subgroups, meta-regression, sensitivity
and cumulative meta-analysis, from the studies' extracted fields and risk of bias. Pure: no Django.

An analysis keeps its additions as data (``Analysis.options["additions"]``, see ``SPEC_KINDS``);
this module turns them, with each study's field values and consensus risk of bias, into stored
results. Bad data (a study without a value, a number field holding text) stops that addition
alone, with a message naming the study and the field; the main result stands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from reviewapp.riskofbias.algorithms import JUDGEMENTS
from reviewapp.synthesis.stats.effect_sizes import EffectSizes
from reviewapp.synthesis.stats.pooling import pool
from reviewapp.synthesis.stats.results import PoolResult, clean
from reviewapp.synthesis.stats.sensitivity import Cumulative, cumulative
from reviewapp.synthesis.stats.subgroups import SubgroupResult, meta_regression, subgroup_analysis
from reviewapp.synthesis.stats.tau2 import ConvergenceError

SPEC_KINDS = {
    "subgroup": "Subgroup analysis",
    "metareg": "Meta-regression",
    "sensitivity": "Sensitivity analysis",
    "cumulative": "Cumulative meta-analysis",
}
# The subgroup variable standing for each study's overall risk-of-bias judgement.
ROB = "rob"
# The cumulative order standing for the year of each study's earliest report.
REPORT_YEAR = "report_year"
# Overall judgements a sensitivity analysis leaves out: RoB 2 and QUADAS-2 "high", ROBINS-I
# "serious" and "critical" (Cochrane Handbook 7.6.2 and 25.5).
HIGH_RISK = frozenset({"high", "serious", "critical"})
NUMERIC_TYPES = frozenset({"integer", "decimal"})


class AdditionError(ValueError):
    """An addition cannot be computed from the data; the message names the study and field."""


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: str


@dataclass
class StudyData:
    """What the additions read besides the effect data, by study label.

    ``values``: extracted field values; ``fields``: the fields that may be chosen; ``rob``: the
    consensus judgements (``{"domains": [...], "overall": "low"}``) of the studies assessed on
    ``rob_form``, whose domains (key, name) are ``rob_domains``.
    """

    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    fields: dict[str, Field] = field(default_factory=dict)
    rob: dict[str, dict[str, Any]] = field(default_factory=dict)
    rob_form: str = ""
    rob_domains: list[tuple[str, str]] = field(default_factory=list)

    def label_of(self, key: str) -> str:
        if key == ROB:
            return f"Overall risk of bias ({self.rob_form})" if self.rob_form else "Risk of bias"
        if key == REPORT_YEAR:
            return "Year of the study's first report"
        found = self.fields.get(key)
        return found.label if found else key


def spec_title(spec: Mapping[str, Any], data: StudyData) -> str:
    """A heading for an addition, e.g. "Subgroup analysis by Design"."""
    kind = spec.get("kind", "")
    name = SPEC_KINDS.get(kind, kind)
    if kind == "subgroup":
        return f"{name} by {data.label_of(spec.get('by', ''))}"
    if kind == "metareg":
        return f"{name} on {', '.join(data.label_of(m) for m in spec.get('moderators', []))}"
    if kind == "cumulative":
        return f"{name} by {data.label_of(spec.get('by', ''))}"
    return f"{name}: leave-one-out and excluding studies at high risk of bias"


def _missing(labels: Sequence[str], what: str) -> AdditionError:
    studies = ", ".join(labels)
    return AdditionError(f"{what} has no value for {studies}.")


def _rob_judgements(labels: Sequence[str], data: StudyData) -> list[str]:
    if not data.rob_form:
        raise AdditionError(
            "This review has no risk-of-bias form with consensus judgements to use."
        )
    missing = [s for s in labels if not (data.rob.get(s) or {}).get("overall")]
    if missing:
        raise AdditionError(
            f"{', '.join(missing)}: no consensus overall judgement on '{data.rob_form}' yet."
        )
    return [data.rob[s]["overall"] for s in labels]


def categories(labels: Sequence[str], key: str, data: StudyData) -> list[str]:
    """Each study's value of a categorical variable (a field, or the overall risk of bias)."""
    if key == ROB:
        return [JUDGEMENTS.get(j, j) for j in _rob_judgements(labels, data)]
    values = []
    missing = []
    for label in labels:
        value = (data.values.get(label) or {}).get(key)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if isinstance(value, bool):
            value = "Yes" if value else "No"
        text = "" if value is None else str(value).strip()
        if not text:
            missing.append(label)
        values.append(text)
    if missing:
        raise _missing(missing, f"'{data.label_of(key)}'")
    return values


def numbers(labels: Sequence[str], key: str, data: StudyData) -> list[float]:
    """Each study's value of a number field (or the year of its first report)."""
    out, missing, bad = [], [], []
    for label in labels:
        value = (data.values.get(label) or {}).get(key)
        if value is None or str(value).strip() == "":
            missing.append(label)
            continue
        text = str(value).strip()
        if key != REPORT_YEAR and data.fields.get(key, Field(key, key, "")).type == "date":
            text = text[:4]
        try:
            number = float(text)
        except ValueError:
            bad.append(f"{label} ({value!r})")
            continue
        if not np.isfinite(number):
            bad.append(f"{label} ({value!r})")
            continue
        out.append(number)
    if missing:
        raise _missing(missing, f"'{data.label_of(key)}'")
    if bad:
        raise AdditionError(f"'{data.label_of(key)}' is not a number for {', '.join(bad)}.")
    return out


def _fit_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    model = settings["model"]
    method = settings["method"]
    return {
        "model": model,
        "method": None if model == "fixed" and method in ("FE", "IV") else method,
        "hksj": bool(settings.get("hksj")),
    }


def _regression_method(settings: Mapping[str, Any]) -> str:
    if settings["model"] == "fixed":
        if settings["method"] in ("MH", "PETO"):
            raise AdditionError(
                "Meta-regression needs inverse-variance pooling; Mantel-Haenszel has no "
                "moderator model. Pool with a random-effects or inverse-variance model."
            )
        return "FE"
    return settings["method"]


@dataclass
class Computed:
    """An addition's stored result and what its plots are drawn from."""

    result: dict[str, Any]
    subgroups: SubgroupResult | None = None
    cumulative: Cumulative | None = None


def compute_subgroup(
    effects: EffectSizes, spec: Mapping[str, Any], data: StudyData, settings: Mapping[str, Any]
) -> Computed:
    """Pooled estimate per subgroup; the tests for subgroup differences (see SubgroupResult)."""
    key = spec["by"]
    groups = categories(effects.labels, key, data)
    names = sorted(set(groups))
    if len(names) < 2:
        raise AdditionError(
            f"Every study has the same '{data.label_of(key)}' ({names[0]}): "
            "there are no subgroups to compare."
        )
    warnings = [
        f"{data.label_of(key)} = {name}: one study only ({effects.labels[groups.index(name)]}); "
        "its subtotal is that study's own estimate, with no heterogeneity to estimate."
        for name in names
        if groups.count(name) == 1
    ]
    sub = subgroup_analysis(effects, groups, **_fit_options(settings))
    # Subgroups in sorted order, as R's factor() and metafor order them.
    sub = replace(sub, groups={name: sub.groups[name] for name in names})
    out = sub.to_dict()
    out.update(
        by=key,
        by_label=data.label_of(key),
        warnings=warnings,
        members={
            name: [s for s, g in zip(effects.labels, groups, strict=True) if g == name]
            for name in names
        },
    )
    return Computed(out, subgroups=sub)


def _design(
    labels: Sequence[str], moderators: Sequence[str], data: StudyData
) -> tuple[np.ndarray, list[str], list[str]]:
    """Intercept, then each moderator: a number field as one column, any other field (or the
    risk of bias) as dummy columns against its first level in sorted order (R's ``factor()``)."""
    columns: list[np.ndarray] = [np.ones(len(labels))]
    names = ["Intercept"]
    errors = []
    for key in moderators:
        try:
            numeric = key == REPORT_YEAR or (
                key in data.fields and data.fields[key].type in NUMERIC_TYPES
            )
            if numeric:
                columns.append(np.array(numbers(labels, key, data)))
                names.append(data.label_of(key))
            else:
                values = categories(labels, key, data)
                levels = sorted(set(values))
                if len(levels) < 2:
                    raise AdditionError(
                        f"Every study has the same '{data.label_of(key)}' ({levels[0]}): it "
                        "cannot explain differences between studies."
                    )
                for level in levels[1:]:
                    columns.append(np.array([v == level for v in values], dtype=float))
                    names.append(f"{data.label_of(key)}: {level} (vs {levels[0]})")
        except AdditionError as exc:
            errors.append(str(exc))
    if errors:
        raise AdditionError(" ".join(errors))
    return np.column_stack(columns), names, list(moderators)


def compute_metareg(
    effects: EffectSizes, spec: Mapping[str, Any], data: StudyData, settings: Mapping[str, Any]
) -> Computed:
    """Mixed-effects (or, for a common-effect analysis, fixed-effects) meta-regression, as
    metafor ``rma(yi, vi, mods = ~ ...)``: coefficients, QM of all moderators, R², tau²."""
    method = _regression_method(settings)
    X, names, _ = _design(effects.labels, spec.get("moderators") or [], data)
    if X.shape[0] <= X.shape[1]:
        raise AdditionError(
            f"{X.shape[1]} coefficients need more than {X.shape[0]} studies; choose fewer "
            "moderators."
        )
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise AdditionError(
            "The moderators are redundant (one is determined by the others for these studies); "
            "leave one out."
        )
    fit = meta_regression(effects, X, names, method=method, hksj=bool(settings.get("hksj")))
    out = fit.to_dict()
    out["moderators"] = [data.label_of(m) for m in spec.get("moderators") or []]
    return Computed(out)


def compute_sensitivity(
    effects: EffectSizes, spec: Mapping[str, Any], data: StudyData, settings: Mapping[str, Any]
) -> Computed:
    """The model refitted without the studies judged at high risk of bias overall (leave-one-
    out is the analysis's own, computed with every result)."""
    judgements = _rob_judgements(effects.labels, data)
    high = np.array([j in HIGH_RISK for j in judgements])
    excluded = [
        {"study": s, "judgement": JUDGEMENTS.get(j, j)}
        for s, j, h in zip(effects.labels, judgements, high, strict=True)
        if h
    ]
    out: dict[str, Any] = {"rob_form": data.rob_form, "excluded": excluded, "warnings": []}
    kept = int((~high).sum())
    if not excluded:
        out["warnings"].append("No study is at high risk of bias: the result is the main one.")
    if kept == 0:
        raise AdditionError("Every study is at high risk of bias: none is left to pool.")
    result: PoolResult = pool(effects.subset(~high), **_fit_options(settings))
    out["result"] = result.to_dict()
    return Computed(clean(out))


def compute_cumulative(
    effects: EffectSizes, spec: Mapping[str, Any], data: StudyData, settings: Mapping[str, Any]
) -> Computed:
    """metafor ``cumul(res, order=year)``: the model refitted as studies accrue."""
    key = spec["by"]
    order = numbers(effects.labels, key, data)
    cum = cumulative(effects, order, **_fit_options(settings))
    out = cum.to_dict()
    out.update(by=key, by_label=data.label_of(key))
    for row in out["cumulative"]:
        value = row["order"]
        if isinstance(value, float) and value.is_integer():
            row["order"] = int(value)
    return Computed(out, cumulative=cum)


COMPUTE = {
    "subgroup": compute_subgroup,
    "metareg": compute_metareg,
    "sensitivity": compute_sensitivity,
    "cumulative": compute_cumulative,
}


def additions_compute(
    effects: EffectSizes,
    specs: Sequence[Mapping[str, Any]],
    data: StudyData,
    settings: Mapping[str, Any],
) -> dict[str, Computed]:
    """Each addition's result by its id; one that cannot be computed carries its ``error``."""
    out: dict[str, Computed] = {}
    for spec in specs:
        base = {"id": spec["id"], "kind": spec["kind"], "title": spec_title(spec, data)}
        try:
            computed = COMPUTE[spec["kind"]](effects, spec, data, settings)
        except AdditionError as exc:
            computed = Computed({"error": str(exc)})
        except (ValueError, np.linalg.LinAlgError, ConvergenceError) as exc:
            computed = Computed({"error": f"It cannot be computed from these data: {exc}"})
        computed.result = {**base, **computed.result}
        out[str(spec["id"])] = computed
    return out
