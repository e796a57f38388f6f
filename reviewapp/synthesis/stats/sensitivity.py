"""Cumulative meta-analysis and trim-and-fill, as metafor's ``cumul()`` and ``trimfill()``.

Cumulative: the model refitted on the first 1, 2, ..., k studies in a given order (by year,
say), ties kept in the data order as R's ``order()`` does. Trim-and-fill (Duval & Tweedie
2000a, 2000b): the number k0 of studies missing on one side of the funnel is estimated with the
L0 or R0 rank estimator by iterating trim, re-estimate and count; the k0 most extreme studies
are mirrored about the trimmed estimate and the model is refitted on the filled data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reviewapp.synthesis.stats.effect_sizes import EffectSizes
from reviewapp.synthesis.stats.pooling import pool, rma_uni
from reviewapp.synthesis.stats.results import PoolResult, clean

__all__ = ["Cumulative", "TrimAndFill", "cumulative", "trim_and_fill"]

CUMULATIVE_KEYS = (
    "estimate",
    "se",
    "stat",
    "pval",
    "ci_lb",
    "ci_ub",
    "Q",
    "Q_p",
    "tau2",
    "I2",
    "H2",
)


@dataclass(frozen=True)
class Cumulative:
    """Step j pools the first j studies of ``labels`` (already in the requested order)."""

    labels: tuple[str, ...]
    order_values: tuple[Any, ...]
    results: tuple[PoolResult, ...]

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for label, value, res in zip(self.labels, self.order_values, self.results, strict=True):
            row = {"added": label, "order": value, "k": res.k}
            row.update({key: getattr(res, key) for key in CUMULATIVE_KEYS})
            row["zval" if res.test == "z" else "tval"] = row.pop("stat")
            row.update(estimate_bt=res.estimate_bt, ci_lb_bt=res.ci_lb_bt, ci_ub_bt=res.ci_ub_bt)
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"cumulative": clean(self.rows())}


def cumulative(
    effects: EffectSizes,
    order: Sequence[Any] | None = None,
    *,
    model: str = "random",
    method: str | None = None,
    hksj: bool = False,
    level: float = 0.95,
) -> Cumulative:
    """metafor ``cumul(res, order=...)``: refit on the first 1..k studies sorted by ``order``.

    ``order`` (a year, say) has one value per study; studies with equal values keep their data
    order (a stable sort). Without it, the data order.
    """
    k = effects.k
    if order is None:
        order = list(range(k))
    order = list(order)
    if len(order) != k:
        raise ValueError(f"Got {len(order)} order values for {k} studies.")
    index = sorted(range(k), key=lambda i: order[i])
    results = []
    for j in range(1, k + 1):
        mask = np.zeros(k, dtype=bool)
        mask[index[:j]] = True
        # subset keeps the data order; the first j in the requested order are the same studies.
        results.append(
            pool(
                effects.subset(mask),
                model=model,
                method=method,
                hksj=hksj,
                level=level,
                tau2_ci=False,
            )
        )
    return Cumulative(
        labels=tuple(effects.labels[i] for i in index),
        order_values=tuple(order[i] for i in index),
        results=tuple(results),
    )


@dataclass(frozen=True)
class TrimAndFill:
    """The trim-and-fill result: k0 (with SE, and for R0 the p-value of H0: k0 = 0), the side
    the studies were filled on, the filled studies and the model refitted on all of them."""

    estimator: str
    side: str
    k0: int
    se_k0: float
    p_k0: float | None
    filled_yi: np.ndarray
    filled_vi: np.ndarray
    original: PoolResult
    result: PoolResult
    filled_effects: EffectSizes

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "estimator": self.estimator,
                "side": self.side,
                "k0": self.k0,
                "se_k0": self.se_k0,
                "p_k0": self.p_k0,
                "filled": [
                    {"yi": y, "vi": v} for y, v in zip(self.filled_yi, self.filled_vi, strict=True)
                ],
                "result": self.result.to_dict(),
            }
        )


def _side(yi: np.ndarray, vi: np.ndarray, method: str) -> str:
    """metafor's default: the sign of the slope of yi on sqrt(vi) (Egger-type regression).

    With equal variances there is no slope (metafor stops there); "left", as for a slope that
    is not negative.
    """
    if np.allclose(vi, vi[0]):
        return "left"
    X = np.column_stack([np.ones(len(yi)), np.sqrt(vi)])
    slope = rma_uni(yi, vi, X, method=method).beta[1]
    return "right" if slope < 0 else "left"


def trim_and_fill(
    effects: EffectSizes,
    *,
    model: str = "random",
    method: str | None = None,
    estimator: str = "L0",
    side: str | None = None,
    level: float = 0.95,
    maxiter: int = 100,
) -> TrimAndFill:
    """metafor ``trimfill()`` for an inverse-variance model (``model`` "fixed" = method FE).

    The side is estimated (see :func:`_side`) unless given. The estimator is "L0" (default) or
    "R0"; k0 is rounded and floored at 0 each iteration until it stops changing. The filled
    model is refitted with the same method and the z-test, as metafor does.
    """
    estimator = estimator.upper()
    if estimator not in ("L0", "R0"):
        raise ValueError("estimator must be 'L0' or 'R0'.")
    model = model.lower()
    if model in ("common", "fe"):
        model = "fixed"
    name = (method or ("FE" if model == "fixed" else "REML")).upper()
    if model == "fixed" and name != "FE":
        raise ValueError(
            "Trim-and-fill works with inverse-variance models (method FE or a tau² estimator)."
        )
    k = effects.k
    if k < 2:
        raise ValueError("Trim-and-fill needs at least two studies.")
    if side is None:
        side = _side(effects.yi, effects.vi, name)
    elif side not in ("left", "right"):
        raise ValueError("side must be 'left' or 'right'.")

    sign = -1.0 if side == "right" else 1.0
    y = sign * effects.yi
    order = np.argsort(y, kind="stable")
    y, v = y[order], effects.vi[order]

    k0, previous, iteration = 0, -1, 0
    beta = 0.0
    se_k0 = 0.0
    centred = y
    while k0 != previous:
        previous = k0
        iteration += 1
        if iteration > maxiter:
            raise ValueError("Trim-and-fill did not converge.")
        beta = float(rma_uni(y[: k - k0], v[: k - k0], method=name).beta[0])
        centred = y - beta
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(centred), kind="stable")] = np.arange(1, k + 1)
        signed = np.sign(centred) * ranks
        if estimator == "R0":
            negative = signed[signed < 0]
            estimate = float(k - (np.max(-negative) if negative.size else 0) - 1)
            se = np.sqrt(2 * max(0.0, estimate) + 2)
        else:
            sr = float(np.sum(signed[signed > 0]))
            estimate = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (
                k * (k + 1) * (2 * k + 1)
                + 10 * estimate**3
                + 27 * estimate**2
                + 17 * estimate
                - 18 * k * estimate**2
                - 18 * k * estimate
                + 6 * k**2 * estimate
            ) / 24
            se = 4 * np.sqrt(var_sr) / (2 * k - 1)
        # R's round() rounds half to even, as Python's does.
        k0 = max(0, int(round(float(estimate))))
        se_k0 = max(0.0, float(se))

    original = pool(effects, model=model, method=None if model == "fixed" else name, level=level)
    if k0 > 0:
        # The k0 most extreme studies mirrored about the trimmed estimate (original scale).
        centre = sign * beta
        extreme_y = sign * y[k - k0 :]
        filled_yi = 2 * centre - extreme_y
        filled_vi = v[k - k0 :].copy()
        filled = EffectSizes(
            measure=effects.measure,
            labels=(*effects.labels, *(f"Filled {i + 1}" for i in range(k0))),
            yi=np.concatenate([effects.yi, filled_yi]),
            vi=np.concatenate([effects.vi, filled_vi]),
            transform=effects.transform,
            ni=None
            if effects.ni is None
            else np.concatenate([effects.ni, effects.ni[order][k - k0 :]]),
        )
        result = pool(filled, model=model, method=None if model == "fixed" else name, level=level)
    else:
        filled_yi = filled_vi = np.array([])
        filled, result = effects, original
    p_k0 = None
    if estimator == "R0":
        p_k0 = float(1 - sum(0.5 ** (j + 1) for j in range(k0 + 1)))
    return TrimAndFill(
        estimator=estimator,
        side=side,
        k0=k0,
        se_k0=se_k0,
        p_k0=p_k0,
        filled_yi=filled_yi,
        filled_vi=filled_vi,
        original=original,
        result=result,
        filled_effects=filled,
    )
