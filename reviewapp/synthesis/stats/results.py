"""Plain result records of the pooling functions, with JSON-ready ``to_dict()``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from reviewapp.synthesis.stats.effect_sizes import ExcludedStudy
from reviewapp.synthesis.stats.transforms import back_transform

__all__ = ["PoolResult", "StudyRow", "clean"]


def clean(value: Any) -> Any:
    """Python scalars for JSON: numpy numbers to float/int, NaN and inf to None."""
    if isinstance(value, dict):
        return {key: clean(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


@dataclass(frozen=True)
class StudyRow:
    """One study as shown in a forest plot: analysis-scale and back-transformed values."""

    label: str
    yi: float
    vi: float
    sei: float
    ci_lb: float
    ci_ub: float
    weight: float  # percent of the total weight in the pooled model
    yi_bt: float
    ci_lb_bt: float
    ci_ub_bt: float

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "study": self.label,
                "yi": self.yi,
                "vi": self.vi,
                "sei": self.sei,
                "ci_lb": self.ci_lb,
                "ci_ub": self.ci_ub,
                "weight": self.weight,
                "yi_bt": self.yi_bt,
                "ci_lb_bt": self.ci_lb_bt,
                "ci_ub_bt": self.ci_ub_bt,
            }
        )


@dataclass(frozen=True)
class PoolResult:
    """A pooled estimate with its heterogeneity statistics, in metafor's vocabulary.

    ``stat`` is the z statistic, or the t statistic with ``df`` degrees of freedom when the
    Hartung-Knapp-Sidik-Jonkman adjustment is used (``test == "knha"``).
    """

    measure: str
    model: str
    method: str
    test: str
    level: float
    k: int
    estimate: float
    se: float
    ci_lb: float
    ci_ub: float
    stat: float
    df: int | None
    pval: float
    tau2: float
    se_tau2: float | None
    tau2_ci_lb: float | None
    tau2_ci_ub: float | None
    I2: float
    H2: float
    I2_ci_lb: float | None
    I2_ci_ub: float | None
    H2_ci_lb: float | None
    H2_ci_ub: float | None
    Q: float
    Q_df: int
    Q_p: float
    pi_lb: float | None
    pi_ub: float | None
    vt: float | None
    transform: str = "none"
    transform_n: float | None = None
    studies: tuple[StudyRow, ...] = ()
    excluded: tuple[ExcludedStudy, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    # What the user asked for and did not get, or why a value is missing, in plain words.
    notes: tuple[str, ...] = ()

    @overload
    def _bt(self, value: float) -> float: ...
    @overload
    def _bt(self, value: float | None) -> float | None: ...
    def _bt(self, value: float | None) -> float | None:
        if value is None:
            return None
        return float(back_transform(value, self.transform, self.transform_n))

    @property
    def estimate_bt(self) -> float:
        return self._bt(self.estimate)

    @property
    def ci_lb_bt(self) -> float:
        return self._bt(self.ci_lb)

    @property
    def ci_ub_bt(self) -> float:
        return self._bt(self.ci_ub)

    @property
    def pi_lb_bt(self) -> float | None:
        return self._bt(self.pi_lb)

    @property
    def pi_ub_bt(self) -> float | None:
        return self._bt(self.pi_ub)

    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "measure": self.measure,
            "model": self.model,
            "method": self.method,
            "test": self.test,
            "level": self.level,
            "k": self.k,
            "estimate": self.estimate,
            "se": self.se,
            "ci_lb": self.ci_lb,
            "ci_ub": self.ci_ub,
        }
        if self.test == "knha":
            out["tval"] = self.stat
            out["df"] = self.df
        else:
            out["zval"] = self.stat
        out.update(
            {
                "pval": self.pval,
                "tau2": self.tau2,
                "se_tau2": self.se_tau2,
                "tau2_ci_lb": self.tau2_ci_lb,
                "tau2_ci_ub": self.tau2_ci_ub,
                "I2": self.I2,
                "I2_ci_lb": self.I2_ci_lb,
                "I2_ci_ub": self.I2_ci_ub,
                "H2": self.H2,
                "H2_ci_lb": self.H2_ci_lb,
                "H2_ci_ub": self.H2_ci_ub,
                "Q": self.Q,
                "Q_df": self.Q_df,
                "Q_p": self.Q_p,
                "pi_lb": self.pi_lb,
                "pi_ub": self.pi_ub,
                "transform": self.transform,
                "estimate_bt": self.estimate_bt,
                "ci_lb_bt": self.ci_lb_bt,
                "ci_ub_bt": self.ci_ub_bt,
                "pi_lb_bt": self.pi_lb_bt,
                "pi_ub_bt": self.pi_ub_bt,
                "studies": [row.to_dict() for row in self.studies],
                "excluded": [{"study": e.label, "reason": e.reason} for e in self.excluded],
            }
        )
        if self.extra:
            out["extra"] = self.extra
        if self.notes:
            out["notes"] = list(self.notes)
        return clean(out)
