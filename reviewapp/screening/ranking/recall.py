"""A recall estimate whose interval holds, and stopping rules side by side. Pure, no Django.

Why a random sample: the ranking puts includes first, so the records screened last are not a
random sample of those left, and any estimate that treats them as one (ranked quasi-sampling)
jumps to 100% as soon as a run of excludes comes; measured in BENCHMARKS.md, it covered the
true recall in far fewer than 95% of checks. A uniform random order of all records, fixed in
advance (the app uses each record's random ``queue_key``), gives a sample whose first ``n``
records are a simple random sample of the collection whatever the ranking did; a record the
ranking already served is a free draw (its label is known), so the sample costs only the
records the ranking has not reached. The include count of the collection then has an exact
hypergeometric (Clopper-Pearson) interval, and recall so far = found / total includes.

Stopping rules (each returns the number of records screened when it says stop, or None):
- :func:`knee_stop` and :func:`budget_stop`: Cormack & Grossman 2016, "Engineering quality and
  reliability in technology-assisted review", SIGIR '16 pp. 75-84 (the knee and budget methods).
- :func:`target_stop`: their target method (same paper): a random target set of relevant
  records, then ranked screening until every target is found.
- :func:`sample_stop`: ranked screening, then a random sample of the rest tested with the
  hypergeometric test of Callaghan & Müller-Hansen 2020 (Syst Rev 9:273), which is exact here
  because the sample really is random.
- :func:`qbcb_stop`: Lewis, Yang & Frieder 2021, "Certifying one-phase technology-assisted
  reviews", CIKM '21 pp. 893-902 (the quantile binomial confidence bound, QBCB).
- :func:`counting_process_stop`: Sneyd & Stevenson's counting-process rules (EMNLP 2019
  D19-1351; SIGIR 2021) as extended by Stevenson & Bin-Hezam 2023 (ACM TOIS 42(3), "Stopping
  methods for technology assisted reviews based on point processes"): a rate of includes fitted
  along the ranking predicts how many are left. A model, not a guarantee.
The quasi-sampling test itself is :func:`reviewapp.screening.ranking.stopping.stopping_test`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import curve_fit
from scipy.stats import binom, hypergeom, norm, poisson

# Record ids or 0/1 labels: a list or a numpy array.
Ints = Sequence[int] | np.ndarray

__all__ = [
    "RecallInterval",
    "budget_stop",
    "counting_process_stop",
    "declared_sample_stop",
    "includes_interval",
    "knee_slope_ratio",
    "knee_stop",
    "qbcb_required",
    "qbcb_stop",
    "sample_interleave",
    "sample_order",
    "sample_prefix",
    "sample_recall",
    "sample_remaining_bound",
    "sample_size_for_stop",
    "sample_stop",
    "sample_test",
    "stop_points",
    "target_size",
    "target_stop",
]


@dataclass(frozen=True)
class RecallInterval:
    """Recall so far: point estimate and interval, and the includes still unseen.

    ``recall`` (and ``remaining``) is NaN while the sample holds no record: there is no estimate
    then, only the interval from what is certain (found / (found + unscreened) to 1).
    """

    recall: float
    recall_low: float
    recall_high: float
    remaining: float
    remaining_low: int
    remaining_high: int
    found: int
    sample_size: int
    sample_includes: int
    confidence: float

    @property
    def has_estimate(self) -> bool:
        return not math.isnan(self.recall)

    def contains(self, recall: float) -> bool:
        return self.recall_low - 1e-12 <= recall <= self.recall_high + 1e-12


# Pure in its integer arguments, and asked the same questions at every share screened.
@lru_cache(maxsize=65_536)
def includes_interval(
    population: int, draws: int, hits: int, *, confidence: float = 0.95
) -> tuple[int, int]:
    """Exact two-sided interval for the include count K of a population of ``population``
    records, from a simple random sample of ``draws`` records holding ``hits`` includes.

    The finite-population Clopper-Pearson construction: the smallest K with P(X >= hits | K)
    above (1 - confidence) / 2 and the largest with P(X <= hits | K) above it. Its coverage is at
    least ``confidence`` for every K (each tail errs with probability at most half the rest).
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    if not 0 <= hits <= draws <= population:
        raise ValueError("need 0 <= hits <= draws <= population")
    if draws == 0:
        return 0, population
    alpha = (1 - confidence) / 2
    # K can be no less than the hits and no more than the population less the sampled misses.
    candidates = np.arange(hits, population - (draws - hits) + 1)
    upper_tail = hypergeom.sf(hits - 1, population, candidates, draws)
    lower_tail = hypergeom.cdf(hits, population, candidates, draws)
    low = int(candidates[np.argmax(upper_tail > alpha)])
    high = int(candidates[lower_tail > alpha].max())
    return low, high


def sample_order(record_ids: Ints, salt: str) -> list[int]:
    """A random order of ``record_ids``, fixed by ``salt`` (the app uses review and stage): the
    records sorted by SHA-256 of salt and id. The same record keeps its place when records are
    added, so a sample already screened stays a sample; no label or ranking enters it. Cached:
    the queue asks for it on every ranked pick, and hashing 100,000 ids takes about 0.3 s.
    """
    return list(_sample_order(salt, tuple(int(rid) for rid in record_ids)))


@lru_cache(maxsize=16)
def _sample_order(salt: str, record_ids: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(
        sorted(record_ids, key=lambda rid: hashlib.sha256(f"{salt}:{rid}".encode()).digest())
    )


def sample_prefix(sample_order: Ints, known: dict[int, int], limit: int) -> tuple[int, int]:
    """Size and include count of the sample: the first records of ``sample_order`` (a random
    order of every record, fixed in advance), at most ``limit`` of them and only while their
    labels are ``known`` (record -> 1 include, 0 exclude).

    ``limit`` must not depend on labels (the app passes screened // every, the draws the queue
    has made): growing the sample by every record the ranking happened to serve would lean it
    towards includes, since the ranking serves them first. Stopping at the first unknown record
    is safe only when it is rare (a draw handed out and not yet decided); it is the price of
    never counting a record twice.
    """
    n = k = 0
    for record in sample_order[: max(0, limit)]:
        label = known.get(record)
        if label is None:
            break
        n += 1
        k += int(label)
    return n, k


def sample_interleave(ranked: Ints, sample_order: Ints, every: int) -> list[int]:
    """The records in the order screened: the ranking, and at every ``every``-th record the next
    record of the random sample order is drawn; if it was already screened (the ranking served
    it) the draw is free and a ranked record is served instead. After t records the sample is
    exactly the first t // every records of the random order: its size never depends on labels,
    which keeps it a simple random sample (letting free draws run ahead would not: the ranking
    serves includes first, so a sample grown by free draws leans towards includes)."""
    done: set[int] = set()
    out: list[int] = []
    r = 0
    n = len(ranked)
    while len(out) < n:
        step = len(out) + 1
        record = int(sample_order[step // every - 1]) if step % every == 0 else -1
        if record < 0 or record in done:
            while ranked[r] in done:
                r += 1
            record = int(ranked[r])
        done.add(record)
        out.append(record)
    return out


def sample_recall(
    *,
    n_total: int,
    found: int,
    screened: int,
    sample_size: int,
    sample_includes: int,
    confidence: float = 0.95,
) -> RecallInterval:
    """Recall so far from a random sample of the whole collection, with an exact interval.

    ``found`` includes among ``screened`` records so far (in any order); the sample is the first
    ``sample_size`` records of a random order of all ``n_total``, holding ``sample_includes``.
    The total include count R gets :func:`includes_interval`, narrowed by what is certain
    (found <= R <= found + unscreened: intersecting with a sure set keeps the coverage); recall
    = found / R. The point estimate is the sample's rate times the collection, held inside the
    interval.
    """
    if not 0 <= found <= screened <= n_total:
        raise ValueError("need 0 <= found <= screened <= n_total")
    if not 0 <= sample_includes <= min(sample_size, found) or sample_size > screened:
        raise ValueError("the sample must lie among the screened records")
    unscreened = n_total - screened
    low, high = includes_interval(n_total, sample_size, sample_includes, confidence=confidence)
    low, high = max(low, found), min(high, found + unscreened)
    if sample_size:
        total = min(max(sample_includes / sample_size * n_total, low), high)
    else:
        total = math.nan

    def recall_of(total_includes: float) -> float:
        if math.isnan(total_includes):
            return math.nan
        return found / total_includes if total_includes else 1.0

    return RecallInterval(
        recall=recall_of(total),
        recall_low=recall_of(high),
        recall_high=recall_of(low),
        remaining=total - found,
        remaining_low=low - found,
        remaining_high=high - found,
        found=found,
        sample_size=sample_size,
        sample_includes=sample_includes,
        confidence=confidence,
    )


def _labels(labels_in_order: Ints) -> np.ndarray:
    y = np.asarray(labels_in_order, dtype=np.int64).reshape(-1)
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    return y


def knee_slope_ratio(found_curve: np.ndarray) -> float:
    """Cormack & Grossman's slope ratio at the current rank s = len(found_curve): the largest,
    over candidate knees i < s, of (found_i / i) / ((found_s - found_i + 1) / (s - i)), the rate
    of includes before the knee over the (one-smoothed) rate after it.
    """
    s = found_curve.size
    if s < 2:
        return 0.0
    i = np.arange(1, s)
    before = found_curve[:-1] / i
    after = (found_curve[-1] - found_curve[:-1] + 1) / (s - i)
    return float((before / after).max())


def knee_stop(labels_in_order: Ints, *, min_rank: int = 150, step: int = 1) -> int | None:
    """The knee method (Cormack & Grossman 2016): stop at the first rank s >= ``min_rank``
    (checked every ``step`` records) where the slope ratio is at least 156 - min(found, 150).

    The adaptive threshold asks a steep knee while few includes are found; with no include
    found it never stops. Designed on collections of thousands of records: on small ones the
    150-record minimum dominates.
    """
    y = _labels(labels_in_order)
    curve = np.cumsum(y)
    for s in range(max(min_rank, 2), y.size + 1, step):
        found = int(curve[s - 1])
        if found and knee_slope_ratio(curve[:s]) >= 156 - min(found, 150):
            return s
    return None


def budget_stop(labels_in_order: Ints, n_total: int, *, step: int = 1) -> int | None:
    """The budget method (Cormack & Grossman 2016): stop at the first rank s where the slope
    ratio is at least 6 and s >= 10 * n_total / found, or where s >= 0.75 * n_total, whichever
    comes first (the knee method with a budget bound for sparse collections).
    """
    y = _labels(labels_in_order)
    curve = np.cumsum(y)
    for s in range(2, y.size + 1, step):
        found = int(curve[s - 1])
        if s >= 0.75 * n_total:
            return s
        if found and s >= 10 * n_total / found and knee_slope_ratio(curve[:s]) >= 6:
            return s
    return None


def target_size(target: float = 0.95, confidence: float = 0.95) -> int:
    """Targets needed so that finding all of them means recall >= ``target`` with probability
    ``confidence``: each target is a random include, so all of them fall among the first
    ``target`` share of includes with probability at most target ** T. Cormack & Grossman's
    T = 10 gives 70% recall at 97%; 95% recall at 95% confidence needs 59.
    """
    return math.ceil(math.log(1 - confidence) / math.log(target))


def _sample_until(sample_order: Ints, y: np.ndarray, includes: int) -> tuple[set[int], list[int]]:
    """The random-sample phase of the target and QBCB rules: records drawn in ``sample_order``
    until ``includes`` includes are found (or the sample runs out). Returns (the records
    screened, the includes found, in the order drawn)."""
    seen: set[int] = set()
    found: list[int] = []
    for record in sample_order:
        seen.add(int(record))
        if y[record]:
            found.append(int(record))
            if len(found) == includes:
                break
    return seen, found


def target_stop(
    ranked: Ints,
    labels: Ints,
    sample_order: Ints,
    *,
    target: float = 0.95,
    confidence: float = 0.95,
) -> tuple[int, int] | None:
    """The target method (Cormack & Grossman 2016) on record ids.

    Screen records in ``sample_order`` (random) until T = :func:`target_size` includes are
    found, then screen ``ranked`` until every one of them is found. Returns (records screened,
    includes found) at the stop, counting each record once; None if the collection holds fewer
    than T includes (the method then means screening everything).
    """
    y = np.asarray(labels, dtype=np.int64)
    t = target_size(target, confidence)
    seen, targets = _sample_until(sample_order, y, t)
    if len(targets) < t:
        return None
    missing = set(targets)
    for record in ranked:
        if not missing:
            break
        seen.add(int(record))
        missing.discard(int(record))
    found = int(y[list(seen)].sum())
    return len(seen), found


def _screen_until_dry(
    ranked: Ints, y: np.ndarray, patience: int | None
) -> tuple[int, int, np.ndarray]:
    """The first phase of the rank-then-sample rules: screen ``ranked`` until ``patience``
    excludes in a row (default max(20, 5% of the records)) suggest the ranking has run dry.
    Returns (records screened, includes found among them, the ids of the records left).
    """
    wait = max(20, math.ceil(0.05 * y.size)) if patience is None else patience
    screened: list[int] = []
    run = found = 0
    for record in ranked:
        screened.append(int(record))
        found += int(y[record])
        run = 0 if y[record] else run + 1
        if run >= wait:
            break
    return len(screened), found, np.setdiff1d(np.arange(y.size), screened)


def sample_stop(
    ranked: Ints,
    labels: Ints,
    *,
    target: float = 0.95,
    confidence: float = 0.95,
    patience: int | None = None,
    seed: int = 0,
) -> tuple[int, int]:
    """Rank, then sample: a stopping rule whose test rests on a truly random sample.

    Screen ``ranked`` until ``patience`` excludes in a row (default max(20, 5% of the records))
    suggest the ranking has run dry; then draw the unscreened records in a random order and,
    after each, test H0 "recall at this point < target" by Callaghan & Müller-Hansen's
    hypergeometric test with the random draws as the sample: the U records left at the switch
    hold K includes, H0 needs K >= floor(found / target) + 1 - found_at_switch, and p =
    P(X <= includes drawn | U, K, draws). Stop when p < 1 - confidence. Returns (records
    screened, includes found) at the stop.
    """
    y = np.asarray(labels, dtype=np.int64)
    n_total = y.size
    n_screened, found, left = _screen_until_dry(ranked, y, patience)
    rng = np.random.default_rng(seed)
    draws = rng.permutation(left)
    found_at_switch, urn = found, left.size
    hits = 0
    for n, record in enumerate(draws, start=1):
        hits += int(y[record])
        found = found_at_switch + hits
        k_h0 = math.floor(found / target) + 1 - found_at_switch
        p = 0.0 if k_h0 > urn else float(hypergeom.cdf(hits, urn, k_h0, n))
        if found and p < 1 - confidence:
            return n_screened + n, found
    return n_total, int(y.sum())


def stop_points(order: Ints, labels: Ints, *, seed: int = 0) -> dict[str, tuple[int, float]]:
    """Where each stopping rule stops on a screening ``order`` of every record (target recall and
    confidence 95%): rule -> (records screened, recall there). "oracle" is the first point of
    95% recall, what no rule can know. The random parts (sample, targets) use ``seed``. A
    simulation's view of the rules; bench/recall_calibration_bench.py runs them over many seeds.
    """
    from reviewapp.screening.ranking.stopping import stopping_test

    y = np.asarray(labels, dtype=np.int64)
    n, total = y.size, int(y.sum())
    if total == 0:
        raise ValueError("need at least one include")
    ranked = [int(i) for i in order]
    in_order = y[ranked]
    curve = np.cumsum(in_order)

    def at(t: int) -> tuple[int, float]:
        return t, float(curve[t - 1] / total)

    points = {"oracle": at(int(np.searchsorted(curve, math.ceil(0.95 * total))) + 1)}
    as_list = in_order.tolist()
    points["cmh"] = at(next((t for t in range(1, n + 1) if stopping_test(as_list[:t], n).stop), n))
    points["knee"] = at(knee_stop(in_order) or n)
    points["budget"] = at(budget_stop(in_order, n) or n)
    screened, found = sample_stop(ranked, y, seed=seed)
    points["rank_then_sample"] = (screened, found / total)
    hit = target_stop(ranked, y, np.random.default_rng(seed).permutation(n))
    points["target"] = (hit[0], hit[1] / total) if hit else (n, 1.0)
    return points


def _includes_allowed(found: int, target: float) -> int:
    """The most includes that may remain unfound with recall still >= ``target``: R <= found /
    target, so floor(found / target) - found (float noise at exact ratios rounded away)."""
    return math.floor(found / target + 1e-9) - found


def sample_test(
    *,
    unscreened: int,
    found_before: int,
    draws: int,
    hits: int,
    target: float = 0.95,
    confidence: float = 0.95,
) -> float:
    """p-value of H0 "recall < ``target``" after a simple random sample of ``draws`` of the
    ``unscreened`` records left when the sample was declared, holding ``hits`` includes, with
    ``found_before`` includes found before it.

    Callaghan & Müller-Hansen's hypergeometric test (2020, Syst Rev 9:273, eq. 1-3) with a true
    random sample: H0 needs the urn of ``unscreened`` records to hold at least
    K0 = floor((found_before + hits) / target) + 1 - found_before includes, and p = P(X <= hits)
    for X hypergeometric(unscreened, K0, draws). The size is fixed before the sample is drawn
    (no look after each record), so p is valid as it stands: the stop set {p < alpha} is a
    down-set in ``hits`` and so is the set where recall falls short, hence P(stop and recall
    short) <= alpha for every true K.
    """
    if not 0 <= hits <= draws <= unscreened:
        raise ValueError("need 0 <= hits <= draws <= unscreened")
    k0 = _includes_allowed(found_before + hits, target) + 1 + hits
    if k0 > unscreened:
        return 0.0
    return float(hypergeom.cdf(hits, unscreened, k0, draws))


def sample_size_for_stop(
    *, unscreened: int, found: int, target: float = 0.95, confidence: float = 0.95
) -> int:
    """How many of the ``unscreened`` records a random sample must hold so that finding no
    include in it rejects "recall < ``target``" at ``confidence`` (:func:`sample_test` with no
    hits): the smallest n with P(X = 0 | unscreened, K0, n) < 1 - confidence. With no include
    found yet, K0 = 1 and the sample is nearly everything: a rule with no evidence cannot stop.
    """
    if found < 0 or unscreened < 0:
        raise ValueError("counts cannot be negative")
    if unscreened == 0:
        return 0
    k0 = _includes_allowed(found, target) + 1
    if k0 > unscreened:
        return 0
    draws = np.arange(0, unscreened + 1)
    p = hypergeom.pmf(0, unscreened, k0, draws)
    # A margin for float noise: at a p of exactly 1 - confidence the size is one short.
    return int(draws[np.argmax(p < (1 - confidence) * (1 - 1e-9))])


def declared_sample_stop(
    ranked: Ints,
    labels: Ints,
    *,
    target: float = 0.95,
    confidence: float = 0.95,
    patience: int | None = None,
    seed: int = 0,
) -> tuple[int, int]:
    """The declared random-sample rule, simulated: screen ``ranked`` until ``patience`` excludes
    in a row (default max(20, 5% of the records)), then declare a sample of
    :func:`sample_size_for_stop` of the records left, drawn at random, and screen it. Stop if
    :func:`sample_test` rejects "recall < target"; otherwise the rule failed and everything left
    is screened (a second declared sample would be a second look at the same question). Returns
    (records screened, includes found) at the stop.
    """
    y = np.asarray(labels, dtype=np.int64)
    n_total = y.size
    n_screened, found, left = _screen_until_dry(ranked, y, patience)
    size = sample_size_for_stop(
        unscreened=left.size, found=found, target=target, confidence=confidence
    )
    draws = np.random.default_rng(seed).permutation(left)[:size]
    hits = int(y[draws].sum())
    p = sample_test(
        unscreened=left.size,
        found_before=found,
        draws=size,
        hits=hits,
        target=target,
        confidence=confidence,
    )
    if found + hits and p < 1 - confidence:
        return n_screened + size, found + hits
    return n_total, int(y.sum())


def sample_remaining_bound(
    *, unscreened: int, draws: int, hits: int, confidence: float = 0.95
) -> int:
    """One-sided upper bound on the includes among the ``unscreened`` records a declared random
    sample of ``draws`` (holding ``hits``) left unscreened: the largest K with P(X <= hits | K)
    above 1 - confidence, less the hits (the exact hypergeometric bound that
    :func:`sample_test` inverts). Recall is then at least found / (found + this).
    """
    if not 0 <= hits <= draws <= unscreened:
        raise ValueError("need 0 <= hits <= draws <= unscreened")
    candidates = np.arange(hits, unscreened - (draws - hits) + 1)
    tail = hypergeom.cdf(hits, unscreened, candidates, draws)
    return int(candidates[tail > 1 - confidence].max()) - hits


def qbcb_required(positives: int, target: float = 0.95, confidence: float = 0.95) -> int | None:
    """QBCB's j (Lewis, Yang & Frieder 2021): how many of ``positives`` random includes the
    ranking must have found. The recall at the rank of the j-th of them is below ``target`` with
    probability at most 1 - ``confidence``: j is one more than the ``confidence`` quantile of
    Binomial(positives, target). None when no j <= positives exists (at 95% recall and 95%
    confidence that takes 59 positives: below that, the method means screening everything).
    """
    if positives < 1:
        raise ValueError("need at least one positive in the sample")
    cdf = binom.cdf(np.arange(positives + 1), positives, target)
    j = int(np.argmax(cdf >= confidence)) + 1
    return j if j <= positives else None


def qbcb_stop(
    ranked: Ints,
    labels: Ints,
    sample_order: Ints,
    *,
    positives: int,
    target: float = 0.95,
    confidence: float = 0.95,
) -> tuple[int, int] | None:
    """The QBCB rule (Lewis, Yang & Frieder 2021) on record ids.

    Screen records in ``sample_order`` (random, fixed before screening) until ``positives``
    includes are found; then screen ``ranked`` until :func:`qbcb_required` of them are found.
    Returns (records screened, includes found) at the stop, each record counted once (the
    sample's cost is part of the stop); None if the collection holds fewer than ``positives``
    includes or no j exists for them (the method then means screening everything).
    """
    j = qbcb_required(positives, target, confidence)
    y = np.asarray(labels, dtype=np.int64)
    seen, sample_positives = _sample_until(sample_order, y, positives)
    if j is None or len(sample_positives) < positives:
        return None
    wanted = set(sample_positives)
    hits = 0
    for record in ranked:
        if hits >= j:
            break
        seen.add(int(record))
        hits += int(record) in wanted
    return len(seen), int(y[list(seen)].sum())


def _rate(model: str, x: np.ndarray, *params: float) -> np.ndarray:
    """Includes per record at rank x: power a x^k, exponential a e^(-kx), hyperbolic
    a / (1 + b k x)^(1/b) (params (a, k), (a, k) and (a, b, k))."""
    if model == "power":
        a, k = params
        return a * x**k
    if model == "exponential":
        a, k = params
        return a * np.exp(-k * x)
    a, b, k = params
    return a / (1 + b * k * x) ** (1 / b)


def _rate_integral(model: str, params: Sequence[float], start: float, end: float) -> float:
    """Expected includes between ranks ``start`` and ``end`` under the fitted rate."""
    if model == "power":
        a, k = params
        if abs(k + 1) < 1e-12:
            return a * math.log(end / start)
        return a / (k + 1) * (end ** (k + 1) - start ** (k + 1))
    if model == "exponential":
        a, k = params
        if abs(k) < 1e-12:
            return a * (end - start)
        return a / k * (math.exp(-k * start) - math.exp(-k * end))
    a, b, k = params
    if abs(k) < 1e-12:
        return a * (end - start)
    if min(1 + b * k * start, 1 + b * k * end) <= 0:
        return math.inf  # a rising rate that blows up before the end: no bound at all
    if abs(b - 1) < 1e-12:  # the harmonic rate a / (1 + kx)
        return a / k * (math.log1p(k * end) - math.log1p(k * start))

    def antiderivative(x: float) -> float:
        return a / ((b - 1) * k) * (1 + b * k * x) ** (1 - 1 / b)

    return antiderivative(end) - antiderivative(start)


# Per rate: the starting point of the least-squares fit (the authors' code: a = 0.1, k = 0.001;
# the hyperbolic from a = the highest window rate, b = 0.5, k = 0.001, b kept in [0, 1]), and the
# direction in which each parameter means more includes left (for the Cox process).
@dataclass(frozen=True)
class _Fit:
    p0: tuple[float, ...] | None  # None: (highest window rate, 0.5, 0.001)
    bounds: tuple  # as scipy's curve_fit takes them
    more: tuple[int, ...]


_FITS = {
    "power": _Fit(p0=(0.1, 0.001), bounds=(-np.inf, np.inf), more=(1, 1)),
    "exponential": _Fit(p0=(0.1, 0.001), bounds=(-np.inf, np.inf), more=(1, -1)),
    "hyperbolic": _Fit(
        p0=None, bounds=((-np.inf, 0, -np.inf), (np.inf, 1, np.inf)), more=(1, 1, -1)
    ),
}


def _remaining_bound(mu: float, unscreened: int, confidence: float) -> int:
    """The ``confidence`` quantile of Poisson(mu) includes left, at most the records left. A
    fit that says nothing (mu NaN) or too much (mu beyond float range) leaves them all open."""
    if math.isnan(mu):
        return unscreened
    if mu <= 0:
        return 0
    quantile = poisson.ppf(confidence, mu) if mu < unscreened else math.inf
    return unscreened if math.isnan(quantile) else int(min(quantile, unscreened))


def counting_process_stop(
    labels_in_order: Ints,
    *,
    model: str = "power",
    cox: bool = False,
    target: float = 0.95,
    confidence: float = 0.95,
    step: float = 0.025,
    windows: int = 10,
    min_found: int = 20,
) -> int | None:
    """A counting-process stopping rule (Sneyd & Stevenson 2019, 2021; Stevenson & Bin-Hezam
    2023). Returns the records screened at the stop, or None (screen everything).

    At every ``step`` share of the collection screened (2.5%, as the authors' code) and once at
    least ``min_found`` includes are found (their 20): split the screened ranks into ``windows``
    (10) equal windows, fit the rate of includes per record against rank (``model`` "power",
    a x^k at the window starts; "exponential", a e^(-kx), or "hyperbolic", a / (1 + bkx)^(1/b),
    at the window midpoints; least squares from the authors' starting points), and take the includes left as Poisson with
    mean the rate's integral over the unscreened ranks. Stop when found >= ``target`` x (found +
    the ``confidence`` quantile of that Poisson). ``cox`` (their Cox process) mixes the Poisson
    over the fit's parameter uncertainty: every parameter moved together by z standard errors in
    the direction of more includes left (a up, k down for the exponential...), z on 100
    points from the 1st to the 99th normal percentile, the predicted totals averaged with normal
    weights (normalised over that range). Not used here: their later gate on the fit's normalised squared error (its
    threshold was chosen by grid search on their data) and the shortcut of stopping when the
    last five windows hold no include (it can only stop earlier).

    The probability statement holds only if includes do arrive as the fitted process: a
    ranking's stream of includes is not Poisson, so this is a model-based estimate with no
    guarantee; bench/recall_calibration_bench.py measures how often it is right.
    """
    if model not in _FITS:
        raise ValueError('model must be "power", "exponential" or "hyperbolic"')
    fit = _FITS[model]
    y = _labels(labels_in_order)
    n = y.size
    curve = np.cumsum(y)
    z = np.linspace(norm.ppf(0.01), norm.ppf(0.99), 100)
    weights = norm.pdf(z)
    # The 1st-99th percentile grid holds 98% of the normal mass: without this the average
    # would shrink every predicted total by 2% (the authors' code leaves it so).
    norm_mass = float(np.trapezoid(weights, z))
    checks = sorted({round(n * step * i) for i in range(1, math.ceil(1 / step) + 1)})
    for t in checks:
        if t < windows or t >= n:
            continue
        found = int(curve[t - 1])
        if found < min_found:
            continue
        parts = np.array_split(np.arange(t), windows)
        rates = np.array([y[part].mean() for part in parts])
        if model == "power":
            x = np.array([part[0] + 1 for part in parts], dtype=float)
        else:
            x = np.array([(part[0] + part[-1]) / 2 for part in parts], dtype=float)
        p0 = fit.p0 or (float(rates.max()), 0.5, 0.001)
        try:
            with np.errstate(all="ignore"):
                params, cov = curve_fit(
                    lambda xs, *ps: _rate(model, xs, *ps),
                    x,
                    rates,
                    p0=p0,
                    bounds=fit.bounds,
                )
        except (RuntimeError, ValueError):
            continue  # no fit at this point: the authors' code goes on screening
        predicted: float
        with np.errstate(all="ignore"):
            if not cox:
                mu = _rate_integral(model, params, t, n)
                predicted = found + _remaining_bound(mu, n - t, confidence)
            else:
                se = np.sqrt(np.abs(np.diag(cov))) * np.asarray(fit.more)
                if not np.all(np.isfinite(se)):
                    continue
                totals = []
                for zi in z:
                    moved = params + zi * se
                    if model == "hyperbolic":
                        moved[1] = min(max(moved[1], 1e-6), 1.0)
                    mu = _rate_integral(model, moved, t, n)
                    totals.append(found + _remaining_bound(mu, n - t, confidence))
                predicted = float(np.trapezoid(weights * np.asarray(totals), z) / norm_mass)
        if found >= target * predicted:
            return t
    return None
