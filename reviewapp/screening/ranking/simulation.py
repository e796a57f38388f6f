"""Simulated screening of a fully labelled review, the labels acting as the reviewer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reviewapp.screening.ranking.metrics import rrf, wss
from reviewapp.screening.ranking.presets import DEFAULT_PRESET, Preset
from reviewapp.screening.ranking.ranker import Ranker

__all__ = ["SimulationResult", "simulate"]


@dataclass(frozen=True)
class SimulationResult:
    """Screening order (every row once, priors first), its metrics and the seconds it took.

    ``wss95`` and ``rrf10`` are computed on the order after the priors, as asreview-insights
    does (see :mod:`reviewapp.screening.ranking.metrics`); they are None when no include is
    left after the priors. ``retrains`` counts classifier fits.
    """

    order: list[int]
    n_priors: int
    wss95: float | None
    rrf10: float | None
    seconds: float
    retrains: int
    preset: str
    seed: int

    def to_dict(self) -> dict:
        return {
            "order": self.order,
            "n_priors": self.n_priors,
            "wss95": self.wss95,
            "rrf10": self.rrf10,
            "seconds": self.seconds,
            "retrains": self.retrains,
            "preset": self.preset,
            "seed": self.seed,
        }


def simulate(
    texts: Sequence[str],
    labels: Sequence[int],
    prior_indices: Sequence[int],
    *,
    preset: str | Preset = DEFAULT_PRESET,
    seed: int = 0,
    retrain_every: int = 1,
) -> SimulationResult:
    """Screen every record in ranked order, retraining after every ``retrain_every`` labels.

    The simulation study design of ASReview (van de Schoot et al. 2021, Nat Mach Intell
    3:125-133; ``asreview simulate``): the prior rows (0-based) are labelled first, in the
    order given; then the model is trained on all labels so far, the top ``retrain_every``
    records of its ranking are labelled from ``labels``, and so on. While the labels hold no
    include or no exclude the ranker keeps plain order. Once every include has been found the
    rest follows the last ranking without retraining: ASReview's simulation stops at the last
    include (its default stopper), and no metric depends on the order of that tail.
    """
    started = time.perf_counter()
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    n = y.size
    if len(texts) != n:
        raise ValueError("texts and labels differ in length")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if retrain_every < 1:
        raise ValueError("retrain_every must be at least 1")
    priors = [int(i) for i in prior_indices]
    if len(set(priors)) != len(priors):
        raise ValueError("prior rows repeat")
    if any(not 0 <= i < n for i in priors):
        raise ValueError(f"prior rows must lie in 0..{n - 1}")

    ranker = Ranker(preset, seed=seed)
    ranker.features_fit(texts)
    order = list(priors)
    unlabelled = np.ones(n, dtype=bool)
    unlabelled[priors] = False
    includes_left = int(y[unlabelled].sum())
    retrains = 0
    while unlabelled.any():
        labelled = np.asarray(order, dtype=np.intp)
        ranker.fit(texts, labelled, y[labelled])
        retrains += ranker.is_trained
        ranked = ranker.rank(np.flatnonzero(unlabelled))
        batch = ranked if includes_left == 0 else ranked[:retrain_every]
        order.extend(int(i) for i in batch)
        unlabelled[batch] = False
        includes_left -= int(y[batch].sum())

    after_priors = y[order[len(priors) :]]
    has_metrics = after_priors.size > 0 and after_priors.sum() > 0
    return SimulationResult(
        order=order,
        n_priors=len(priors),
        wss95=wss(after_priors, 0.95) if has_metrics else None,
        rrf10=rrf(after_priors, 0.10) if has_metrics else None,
        seconds=time.perf_counter() - started,
        retrains=retrains,
        preset=ranker.preset.name,
        seed=seed,
    )
