"""The forest and funnel plots in words, for readers who cannot see them. Pure: no Django.

Read from the stored result (``PoolResult.to_dict()``), so the words and the drawing give the
same numbers: how many studies, the pooled estimate with its confidence interval, the spread of
the study estimates, and the heterogeneity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MEASURE_NAMES = {
    "OR": "odds ratio",
    "RR": "risk ratio",
    "RD": "risk difference",
    "MD": "mean difference",
    "SMD": "standardised mean difference",
    "PR": "proportion",
    "PLO": "proportion",
    "PFT": "proportion",
    "GEN": "effect",
}
MODEL_NAMES = {"fixed": "common-effect model", "random": "random-effects model"}


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "not available"
    return f"{float(value):.{digits}f}"


def _p(value: Any) -> str:
    if value is None:
        return "p not available"
    return "p < 0.001" if float(value) < 0.001 else f"p = {float(value):.3f}"


def _studies(k: int) -> str:
    return f"{k} stud{'y' if k == 1 else 'ies'}"


def forest_plot_text(pooled: Mapping[str, Any]) -> str:
    """The forest plot as sentences: studies, their range, the pooled estimate and CI, and the
    heterogeneity (I², tau², Q)."""
    k = int(pooled.get("k") or 0)
    name = MEASURE_NAMES.get(str(pooled.get("measure")), "effect")
    level = round(100 * float(pooled.get("level") or 0.95))
    parts = [f"Forest plot of {_studies(k)}."]
    estimates = [s.get("yi_bt") for s in pooled.get("studies", []) if s.get("yi_bt") is not None]
    if len(estimates) > 1:
        parts.append(
            f"Study estimates range from {_num(min(estimates))} to {_num(max(estimates))}."
        )
    model = MODEL_NAMES.get(str(pooled.get("model")), "model")
    parts.append(
        f"Pooled {name} ({model}): {_num(pooled.get('estimate_bt'))}, "
        f"{level}% CI {_num(pooled.get('ci_lb_bt'))} to {_num(pooled.get('ci_ub_bt'))}, "
        f"{_p(pooled.get('pval'))}."
    )
    if pooled.get("pi_lb_bt") is not None:
        parts.append(
            f"{level}% prediction interval {_num(pooled.get('pi_lb_bt'))} to "
            f"{_num(pooled.get('pi_ub_bt'))}."
        )
    if k > 1:
        parts.append(
            f"Heterogeneity: I² = {_num(pooled.get('I2'), 1)}%, "
            f"tau² = {_num(pooled.get('tau2'), 3)}, Q = {_num(pooled.get('Q'))} "
            f"(df = {pooled.get('Q_df')}, {_p(pooled.get('Q_p'))})."
        )
    return " ".join(parts)


def funnel_plot_text(pooled: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> str:
    """The funnel plot as sentences: what is plotted and, when run, the asymmetry tests."""
    k = int(pooled.get("k") or 0)
    parts = [
        f"Funnel plot of {_studies(k)}: each study's estimate against its standard error, "
        "around the pooled estimate."
    ]
    egger = (extra or {}).get("egger")
    if egger:
        parts.append(
            f"Egger's regression test for asymmetry: {egger.get('stat_name', 'statistic')} = "
            f"{_num(egger.get('stat'), 3)}, {_p(egger.get('pval'))}."
        )
    rank = (extra or {}).get("rank_test")
    if rank:
        parts.append(
            f"Rank correlation test: Kendall's tau = {_num(rank.get('tau'), 3)}, "
            f"{_p(rank.get('pval'))}."
        )
    if not egger and not rank:
        parts.append("No test for asymmetry was run for this analysis.")
    return " ".join(parts)
