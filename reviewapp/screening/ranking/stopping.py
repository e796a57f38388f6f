"""When to stop screening: the hypergeometric stopping test and a recall estimate.

Callaghan & Müller-Hansen 2020, "Statistical stopping criteria for automated screening in
systematic reviews", Systematic Reviews 9:273. Records are screened in ranked order; the last
``n`` screened are treated as if drawn at random from the ``n + unseen`` records that were left
when they were drawn ("ranked quasi-sampling"). Because a working ranking puts includes first,
those last records hold includes at a higher rate than the unseen ones, which makes the test
conservative. Their reference code (R/Python package "buscar") computes the same quantities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import hypergeom

__all__ = [
    "RecallEstimate",
    "StoppingTest",
    "recall_estimate",
    "recall_lower_bound",
    "stopping_test",
]


@dataclass(frozen=True)
class StoppingTest:
    """Outcome of the test of H0 "recall < target".

    ``p_value`` is the smallest p over all windows; ``window`` is the number of last-screened
    records that gave it. ``stop`` is True when H0 is rejected at ``1 - confidence``.
    """

    p_value: float
    stop: bool
    window: int
    target: float
    confidence: float


@dataclass(frozen=True)
class RecallEstimate:
    """Recall so far with an interval, and the includes estimated still unseen."""

    recall: float
    recall_low: float
    recall_high: float
    remaining: float
    remaining_low: int
    remaining_high: int
    found: int
    window: int
    confidence: float


def _screened(labels_in_order: Sequence[int], n_total: int) -> np.ndarray:
    y = np.asarray(labels_in_order, dtype=np.int64).reshape(-1)
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if y.size > n_total:
        raise ValueError(f"{y.size} records screened but only {n_total} in total")
    return y


def _window_p_values(y: np.ndarray, n_total: int, target: float) -> np.ndarray:
    """p of H0 for each window of the last 1..n screened records (index w-1 for window w).

    Only windows that start right after an include, and the whole run, can give the smallest
    p: widening a window by an exclude adds one draw and one non-include ball to the urn with
    the same count found, which never raises P(X <= k). The others get p = 1, so the minimum
    is unchanged and costs r_seen + 1 evaluations instead of n.
    """
    n = y.size
    r_seen = int(y.sum())
    window = np.arange(1, n + 1)
    found_in_window = np.cumsum(y[::-1])
    found_before = r_seen - found_in_window
    # Fewest includes the urn (window + unseen) must hold for recall to be below target:
    # total includes > r_seen / target, i.e. at least floor(r_seen / target) + 1.
    k_h0 = math.floor(r_seen / target) + 1 - found_before
    urn = n_total - n + window
    before_window = np.append(y[::-1][1:], 1)  # the record just before each window
    candidate = before_window == 1
    p = np.ones(n)
    # An urn too small to hold k_h0 includes makes H0 impossible: p is 0 there.
    impossible = k_h0 > urn
    p[impossible] = 0.0
    todo = candidate & ~impossible
    p[todo] = hypergeom.cdf(found_in_window[todo], urn[todo], k_h0[todo], window[todo])
    return p


def stopping_test(
    labels_in_order: Sequence[int],
    n_total: int,
    *,
    target: float = 0.95,
    confidence: float = 0.95,
) -> StoppingTest:
    """Test H0 "recall is below ``target``" after screening ``labels_in_order`` of ``n_total``.

    Callaghan & Müller-Hansen 2020, eq. 1-3: for each window of the last ``w`` screened records,
    holding ``k`` includes with ``r_seen - k`` found before it, the p-value is the hypergeometric
    probability of drawing at most ``k`` includes in ``w`` draws from an urn of ``w + unseen``
    records holding the fewest includes compatible with H0, ``floor(r_seen / target) + 1 -
    (r_seen - k)``. The smallest p over all windows is reported, as in their code. Stop (reject
    H0) when p < 1 - confidence. Screening everything gives p = 0.
    """
    if not 0 < target < 1 or not 0 < confidence < 1:
        raise ValueError("target and confidence must lie strictly between 0 and 1")
    y = _screened(labels_in_order, n_total)
    if y.size == 0:
        return StoppingTest(1.0, False, 0, target, confidence)
    p = _window_p_values(y, n_total, target)
    best = int(np.argmin(p))
    p_min = float(p[best])
    return StoppingTest(p_min, p_min < 1 - confidence, best + 1, target, confidence)


def recall_estimate(
    labels_in_order: Sequence[int],
    n_total: int,
    *,
    confidence: float = 0.95,
    window: int | None = None,
) -> RecallEstimate:
    """Estimate recall so far with an exact interval, by ranked quasi-sampling.

    Method (after Callaghan & Müller-Hansen 2020): the last ``window`` screened records are
    treated as a simple random sample from the urn of ``window + unseen`` records; they hold
    ``k`` includes. The urn's include count K gets the exact two-sided hypergeometric interval
    at ``confidence`` (the Clopper-Pearson construction for a finite population: the smallest
    and largest K whose one-sided tail probability of the observed ``k`` exceeds
    ``(1 - confidence) / 2``), and the point estimate ``k / window * urn``. Unseen includes are
    K - k, and recall = found / (found + unseen includes); its interval follows from K's. The
    default window is the last half of the screened records, at least 1: long enough to be
    informative, recent enough that the ranking's early concentration of includes does not
    dominate it. Because a ranking puts includes first, the estimate leans low (conservative).
    With no include found yet, recall is reported as 0 (nothing found, however many remain).
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    y = _screened(labels_in_order, n_total)
    n = y.size
    found = int(y.sum())
    unseen = n_total - n
    if n == 0:
        return RecallEstimate(0.0, 0.0, 1.0, math.nan, 0, unseen, 0, 0, confidence)
    w = max(1, n // 2) if window is None else window
    if not 1 <= w <= n:
        raise ValueError(f"window must lie in 1..{n}")
    k = int(y[n - w :].sum())
    urn = unseen + w
    alpha = 1 - confidence
    candidates = np.arange(k, k + unseen + 1)
    # P(X >= k | K) grows with K and P(X <= k | K) shrinks with K.
    upper_tail = hypergeom.sf(k - 1, urn, candidates, w)
    lower_tail = hypergeom.cdf(k, urn, candidates, w)
    k_low = int(candidates[np.argmax(upper_tail > alpha / 2)])
    k_high = int(candidates[lower_tail > alpha / 2].max())
    remaining = k / w * urn - k
    remaining_low, remaining_high = k_low - k, k_high - k

    def recall_of(missing: float) -> float:
        return found / (found + missing) if found else 0.0

    return RecallEstimate(
        recall=recall_of(remaining),
        recall_low=recall_of(remaining_high),
        recall_high=recall_of(remaining_low),
        remaining=remaining,
        remaining_low=remaining_low,
        remaining_high=remaining_high,
        found=found,
        window=w,
        confidence=confidence,
    )


def recall_lower_bound(
    labels_in_order: Sequence[int],
    n_total: int,
    *,
    confidence: float = 0.95,
    resolution: float = 0.001,
) -> float:
    """The highest recall the stopping test can vouch for: recall >= this at ``confidence``.

    Inverts the test of Callaghan & Müller-Hansen 2020: the bound is the largest target whose
    H0 "recall < target" the test rejects (to ``resolution``). The test's p-value never falls as
    the target rises, so a bisection finds it. Unlike a sample-based interval it does not assume
    the last screened records are a random sample of the rest, which a ranking makes untrue,
    so it does not lean low when the ranking works; it is a one-sided bound, and 0 means the data
    cannot yet vouch for any recall.
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    y = _screened(labels_in_order, n_total)
    if y.size == 0 or not y.any():
        return 0.0
    if y.size == n_total:
        return 1.0

    def rejected(target: float) -> bool:
        return float(_window_p_values(y, n_total, target).min()) < 1 - confidence

    low, high = 0.0, 1.0 - resolution
    if rejected(high):
        return high
    if not rejected(resolution):
        return 0.0
    low = resolution
    while high - low > resolution:
        middle = (low + high) / 2
        if rejected(middle):
            low = middle
        else:
            high = middle
    return round(low, 6)
