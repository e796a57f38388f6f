"""A simulation study as a user runs it: several labelled reviews, several seeds, one table.

Each (review, seed) run draws its prior records with the seed (:func:`priors_draw`), replays
the review with :func:`~reviewapp.screening.ranking.simulation.simulate`, and records WSS@95,
recall after 10% and 25% of the records (asreview-insights' definitions, priors excluded) and
where each stopping rule of :func:`~reviewapp.screening.ranking.recall.stop_points` stops. The
design is ASReview's simulation study (van de Schoot et al. 2021, Nat Mach Intell 3:125-133):
the same priors and seeds for every model make models comparable run by run.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reviewapp.screening.ranking.io import LabelledData, LabelledDataError, labelled_csv_read
from reviewapp.screening.ranking.metrics import recall_at
from reviewapp.screening.ranking.presets import DEFAULT_PRESET, Preset
from reviewapp.screening.ranking.simulation import SimulationResult, simulate

__all__ = [
    "RULE_NAMES",
    "StudyRun",
    "labelled_paths",
    "priors_draw",
    "study_run",
    "study_table",
]

# How tables and plots name the stopping rules (ranking/recall.py, ranking/stopping.py).
RULE_NAMES = {
    "oracle": "oracle (first 95% recall)",
    "cmh": "Callaghan & Müller-Hansen test",
    "rank_then_sample": "rank then random sample",
    "knee": "knee (Cormack & Grossman)",
    "budget": "budget (Cormack & Grossman)",
    "target": "target (Cormack & Grossman)",
}


def priors_draw(labels: Sequence[int], seed: int) -> list[int]:
    """One include and one exclude drawn with ``seed``, include first: the priors of
    ``asreview simulate --n-prior-included 1 --n-prior-excluded 1`` as our benchmark draws
    them, so every model of a study gets the same rows for the same seed."""
    y = np.asarray(labels)
    if not (y == 1).any() or not (y == 0).any():
        raise ValueError("need at least one include and one exclude to draw priors")
    rng = np.random.default_rng(seed)
    return [int(rng.choice(np.flatnonzero(y == 1))), int(rng.choice(np.flatnonzero(y == 0)))]


def labelled_paths(path: str | Path) -> list[Path]:
    """The CSV files a study reads: ``path`` itself, or every ``*.csv`` in the folder ``path``
    (sorted by name). LabelledDataError when there is nothing to read."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() == ".csv" and f.is_file())
        if not files:
            raise LabelledDataError(f"{p}: no .csv files in this folder")
        return files
    if not p.exists():
        raise LabelledDataError(f"{p}: cannot read (no such file or folder)")
    return [p]


@dataclass(frozen=True)
class StudyRun:
    """One simulated review: the dataset, seed and priors, the result and its measures.

    ``curve`` is recall after each record of the order (priors included, as a reviewer counts
    them); ``stops`` maps a rule to (records screened, recall there) on that same order.
    """

    dataset: str
    n_records: int
    n_includes: int
    seed: int
    priors: list[int]
    result: SimulationResult
    recall10: float | None
    recall25: float | None
    stops: dict[str, tuple[int, float]]
    curve: np.ndarray = field(repr=False)

    @property
    def wss95(self) -> float | None:
        return self.result.wss95

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "records": self.n_records,
            "includes": self.n_includes,
            "seed": self.seed,
            "priors": self.priors,
            "preset": self.result.preset,
            "wss95": self.result.wss95,
            "rrf10": self.result.rrf10,
            "recall10": self.recall10,
            "recall25": self.recall25,
            "seconds": self.result.seconds,
            "stops": {k: list(v) for k, v in self.stops.items()},
            "order": self.result.order,
        }


def study_run(
    data: LabelledData,
    seed: int,
    *,
    preset: str | Preset = DEFAULT_PRESET,
    priors: Sequence[int] | None = None,
    retrain_every: int = 1,
) -> StudyRun:
    """Simulate ``data`` with ``seed`` (priors drawn with it unless given) and measure it."""
    # Imported here: recall.py imports the stopping test, which imports scipy.stats (slow to
    # load) and is only needed once a run is measured.
    from reviewapp.screening.ranking.recall import stop_points

    prior_rows = list(priors) if priors is not None else priors_draw(data.labels, seed)
    result = simulate(
        data.texts, data.labels, prior_rows, preset=preset, seed=seed, retrain_every=retrain_every
    )
    y = np.asarray(data.labels, dtype=np.int64)
    after = y[result.order[len(prior_rows) :]]
    has_includes = after.size > 0 and after.sum() > 0
    curve = np.cumsum(y[result.order]) / y.sum()
    return StudyRun(
        dataset=Path(data.path).stem,
        n_records=int(y.size),
        n_includes=int(y.sum()),
        seed=seed,
        priors=prior_rows,
        result=result,
        recall10=recall_at(after, 0.10) if has_includes else None,
        recall25=recall_at(after, 0.25) if has_includes else None,
        stops=stop_points(result.order, data.labels, seed=seed),
        curve=curve,
    )


def study(
    paths: Iterable[str | Path],
    seeds: Sequence[int],
    *,
    preset: str | Preset = DEFAULT_PRESET,
    retrain_every: int = 1,
) -> list[StudyRun]:
    """:func:`study_run` for every file and seed, files in the order given."""
    runs = []
    for path in paths:
        data = labelled_csv_read(path)
        for seed in seeds:
            runs.append(study_run(data, seed, preset=preset, retrain_every=retrain_every))
    return runs


def _mean_sd(values: Sequence[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "n/a"
    if len(known) == 1:
        return f"{known[0]:.3f}"
    return f"{statistics.mean(known):.3f} ± {statistics.stdev(known):.3f}"


def _by_dataset(runs: Sequence[StudyRun]) -> dict[str, list[StudyRun]]:
    out: dict[str, list[StudyRun]] = {}
    for run in runs:
        out.setdefault(run.dataset, []).append(run)
    return out


def study_table(runs: Sequence[StudyRun]) -> str:
    """Two Markdown tables: per dataset the mean ± SD over seeds of WSS@95 and recall at 10%
    and 25% screened (priors excluded), then per dataset and stopping rule where it stops
    (records and share screened, mean over seeds) and the recall there (mean and lowest)."""
    groups = _by_dataset(runs)
    lines = [
        "| dataset | records (incl.) | seeds | WSS@95 | recall@10% | recall@25% |",
        "|---|---|---|---|---|---|",
    ]
    for name, group in groups.items():
        first = group[0]
        lines.append(
            f"| {name} | {first.n_records} ({first.n_includes}) | {len(group)} "
            f"| {_mean_sd([r.wss95 for r in group])} | {_mean_sd([r.recall10 for r in group])} "
            f"| {_mean_sd([r.recall25 for r in group])} |"
        )
    wss_means = [
        statistics.mean(v) for g in groups.values() if (v := [r.wss95 for r in g if r.wss95])
    ]
    if len(groups) > 1 and wss_means:
        lines.append(f"| mean over datasets | | | {statistics.mean(wss_means):.3f} | | |")
    lines += [
        "",
        "Stopping rules (target recall 95%, confidence 95%), on the same orders; records "
        "screened include the priors:",
        "",
        "| dataset | rule | stops after (records) | share screened | recall at stop (mean) "
        "| recall at stop (lowest) |",
        "|---|---|---|---|---|---|",
    ]
    for name, group in groups.items():
        for rule, label in RULE_NAMES.items():
            points = [(*r.stops[rule], r.n_records) for r in group if rule in r.stops]
            if not points:
                continue
            recalls = [recall for _, recall, _ in points]
            screened = statistics.mean(s for s, _, _ in points)
            share = statistics.mean(s / n for s, _, n in points)
            lines.append(
                f"| {name} | {label} | {screened:.0f} | {share:.3f} "
                f"| {statistics.mean(recalls):.3f} | {min(recalls):.3f} |"
            )
    return "\n".join(lines)
