"""Inter-rater agreement between two screeners. Pure: no Django here.

Cohen's kappa (Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas
1960;20:37-46): kappa = (p_o - p_e) / (1 - p_e), where p_o is the observed proportion of records on
which the two reviewers agree and p_e the agreement expected by chance from each reviewer's own
proportions of each decision. Computed only over records both reviewers screened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Agreement:
    n: int  # records both screened
    agreed: int
    kappa: float | None  # None when undefined: no records, or chance agreement is certain

    @property
    def percent(self) -> float | None:
        return 100 * self.agreed / self.n if self.n else None


def cohen_kappa(pairs: Iterable[tuple[str, str]]) -> Agreement:
    """Agreement over (decision of reviewer A, decision of reviewer B) pairs, one per record."""
    pairs = list(pairs)
    n = len(pairs)
    if n == 0:
        return Agreement(0, 0, None)
    agreed = sum(1 for a, b in pairs if a == b)
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    p_o = agreed / n
    p_e = sum(first[c] * second[c] for c in first.keys() | second.keys()) / (n * n)
    if p_e == 1:
        return Agreement(n, agreed, None)
    return Agreement(n, agreed, (p_o - p_e) / (1 - p_e))


def cohen_kappa_table(cells: Mapping[tuple[str, str], int]) -> Agreement:
    """cohen_kappa from the contingency table: (decision of A, decision of B) -> records.

    The same formula as cohen_kappa, for counts kept as a table instead of one pair per record.
    """
    n = sum(cells.values())
    if n == 0:
        return Agreement(0, 0, None)
    agreed = sum(k for (a, b), k in cells.items() if a == b)
    first: Counter = Counter()
    second: Counter = Counter()
    for (a, b), k in cells.items():
        first[a] += k
        second[b] += k
    p_o = agreed / n
    p_e = sum(first[c] * second[c] for c in first.keys() | second.keys()) / (n * n)
    if p_e == 1:
        return Agreement(n, agreed, None)
    return Agreement(n, agreed, (p_o - p_e) / (1 - p_e))


def pairwise_tables(
    tables: Mapping[tuple[int, int], Mapping[tuple[str, str], int]],
) -> tuple[Agreement, dict[tuple[int, int], Agreement]]:
    """pairwise from each pair's contingency table (reviewer ids a < b); the pooled figure puts
    every pair's table into one, as pairwise does with their records."""
    pooled: Counter = Counter()
    per_pair = {}
    for pair, cells in tables.items():
        if sum(cells.values()) == 0:
            continue
        per_pair[pair] = cohen_kappa_table(cells)
        pooled.update(cells)
    return cohen_kappa_table(pooled), per_pair


def pair_agreement(a: Mapping[int, str], b: Mapping[int, str]) -> Agreement:
    """Agreement of two reviewers, each given as {record id: decision}, over records both decided."""
    common = sorted(a.keys() & b.keys())
    return cohen_kappa((a[r], b[r]) for r in common)


def pairwise(
    votes: Mapping[int, Mapping[int, str]],
) -> tuple[Agreement, dict[tuple[int, int], Agreement]]:
    """Per reviewer pair, and pooled over all pairs, from {reviewer: {record: decision}}.

    The pooled figure puts every pair's common records into one table, so a stage screened by
    several pairs of reviewers gets one kappa.
    """
    reviewers = sorted(votes)
    per_pair: dict[tuple[int, int], Agreement] = {}
    pooled: list[tuple[str, str]] = []
    for i, first in enumerate(reviewers):
        for second in reviewers[i + 1 :]:
            common = sorted(votes[first].keys() & votes[second].keys())
            if not common:
                continue
            pairs = [(votes[first][r], votes[second][r]) for r in common]
            per_pair[(first, second)] = cohen_kappa(pairs)
            pooled.extend(pairs)
    return cohen_kappa(pooled), per_pair
