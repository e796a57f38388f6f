"""Calibration of the recall interval and the stopping rules side by side, in simulation.

    .venv/bin/python bench/recall_calibration_bench.py [--data ../shared/fixtures/labelled] \
        [--seeds 10] [--sample-seeds 100] [--stop-seeds 10] \
        [--sample-every 10] [--out bench/out/recall.md]

For every labelled set and ranking seed, one simulated review (elas_u4, priors one include and
one exclude drawn with the seed, as bench/prioritisation_bench.py) gives the ranked order. On top
of it the reviewer also screens a random sample: a random order of every record is fixed in
advance, and every ``--sample-every``-th record served is the first record of that order not yet
screened (a record the ranking already served is a free draw). The model is not retrained on the
sample records (a small handicap to the ranking; the sample never depends on the ranking). At
each screening fraction the checks are: does the stated 95% interval contain the true recall?

Compared: the sample interval (reviewapp.screening.ranking.recall.sample_recall); the old
quasi-sampling interval (ranking.stopping.recall_estimate: the last half screened treated as a
random sample of the rest); and the one-sided bound of the inverted Callaghan & Müller-Hansen test
(ranking.stopping.recall_lower_bound, checked as "true recall >= bound").

Stopping rules on the same orders: the Callaghan & Müller-Hansen test (ranked quasi-sampling,
as the app has it), rank-then-sample (recall.sample_stop), the knee and budget methods and the
target method (Cormack & Grossman 2016), QBCB (Lewis, Yang & Frieder 2021, recall.qbcb_stop)
and the counting-process rules (Sneyd & Stevenson; Stevenson & Bin-Hezam 2023,
recall.counting_process_stop). Per rule: share of runs with recall >= 95% at the stop,
and records screened at the stop against the oracle point (where ranked screening first reached
95% recall).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.prioritisation_bench import machine, priors_draw  # noqa: E402
from reviewapp.screening.ranking import labelled_csv_read, simulate  # noqa: E402
from reviewapp.screening.ranking.recall import (  # noqa: E402
    budget_stop,
    counting_process_stop,
    declared_sample_stop,
    knee_stop,
    qbcb_stop,
    sample_interleave,
    sample_recall,
    sample_size_for_stop,
    sample_stop,
    target_size,
    target_stop,
)
from reviewapp.screening.ranking.stopping import (  # noqa: E402
    _window_p_values,
    recall_estimate,
    recall_lower_bound,
)

FRACTIONS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
RULES = (
    "CMH test (ranked)",
    "rank then sample",
    "declared sample",
    "knee",
    "budget",
    "target",
    "QBCB (r = 59)",
    "Poisson process, power law",
    "Poisson process, exponential",
    "Poisson process, hyperbolic",
    "Cox process, power law",
    "Cox process, exponential",
    "Cox process, hyperbolic",
    "oracle switch + sample",
)
# Lewis, Yang & Frieder's positive sample size: the smallest r for which QBCB has a j <= r at
# 95% recall and 95% confidence (recall.qbcb_required); a larger r costs a larger sample.
QBCB_POSITIVES = 59


def ranked_order(data, seed: int, cache: Path | None = None) -> list[int]:
    """The simulated ranked order; kept in ``cache`` (bench/out/orders) when given, so a rerun
    that changes only the stopping rules does not repeat the 20 minutes of retraining. The
    cache key names the set, the seed and the record count, not the model: delete the folder
    after changing the ranking."""
    n = len(data.labels)
    path = cache / f"{Path(data.path).stem}-{n}-seed{seed}.npy" if cache else None
    if path is not None and path.exists():
        return [int(i) for i in np.load(path)]
    # Retraining after every record costs minutes per run on the 2,000-record sets; ~100
    # retrains per review keep the ranking close to the per-record one. The sample interval
    # does not depend on the ranking at all; the stopping rules do, a little.
    every = max(1, n // 100)
    result = simulate(
        data.texts, data.labels, priors_draw(data.labels, seed), seed=seed, retrain_every=every
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.asarray(result.order, dtype=np.int64))
    return result.order


def calibration(y: np.ndarray, ranked: list[int], sample_seeds: int, every: int, seed: int) -> dict:
    n, total = y.size, int(y.sum())
    checks = {f: {"sample": [], "width": [], "quasi": [], "bound": []} for f in FRACTIONS}
    for f in FRACTIONS:
        t = max(1, int(f * n))
        prefix = y[ranked[:t]]
        true = prefix.sum() / total
        q = recall_estimate(prefix, n)
        checks[f]["quasi"].append(bool(q.recall_low - 1e-12 <= true <= q.recall_high + 1e-12))
        checks[f]["bound"].append(bool(true >= recall_lower_bound(prefix, n) - 1e-12))
    for s in range(sample_seeds):
        permutation = np.random.default_rng([seed, s]).permutation(n)
        order = sample_interleave(ranked, permutation, every)
        found_curve = np.cumsum(y[np.asarray(order)])
        sample_hits = np.cumsum(y[permutation])
        for f in FRACTIONS:
            t = max(1, int(f * n))
            m = t // every
            found = int(found_curve[t - 1])
            est = sample_recall(
                n_total=n,
                found=found,
                screened=t,
                sample_size=m,
                sample_includes=int(sample_hits[m - 1]) if m else 0,
            )
            checks[f]["sample"].append(est.contains(found / total))
            checks[f]["width"].append(est.recall_high - est.recall_low)
    return checks


def cmh_stop(labels: np.ndarray) -> int:
    for t in range(1, labels.size + 1):
        if _window_p_values(labels[:t], labels.size, 0.95).min() < 0.05:
            return t
    return labels.size


def stops(
    y: np.ndarray, ranked: list[int], sample_seeds: int, seed: int, patience: float = 0.05
) -> dict[str, list[tuple]]:
    """Per rule: (recall at stop, records screened at stop, oracle records) per run."""
    n, total = y.size, int(y.sum())
    wait = max(20, math.ceil(patience * n))
    labels = y[ranked]
    curve = np.cumsum(labels)
    oracle = int(np.searchsorted(curve, math.ceil(0.95 * total))) + 1
    out: dict[str, list[tuple]] = {rule: [] for rule in RULES}

    def add(rule: str, screened: int, found: int) -> None:
        out[rule].append((found / total, screened, oracle))

    t = cmh_stop(labels)
    add("CMH test (ranked)", t, int(curve[t - 1]))
    # Not a rule (it needs the oracle): screening stops at the oracle point and a random sample
    # of the rest certifies it, the sample no include in it can make smallest. What any
    # certificate from a random sample costs at the least; the ranked quasi-sample of the CMH
    # test rests on the same hypergeometric bound.
    found = int(curve[oracle - 1])
    floor = oracle + sample_size_for_stop(unscreened=n - oracle, found=found)
    add("oracle switch + sample", floor, found)
    step = max(1, n // 500)
    for rule, stop in (
        ("knee", knee_stop(labels, step=step)),
        ("budget", budget_stop(labels, n, step=step)),
        *(
            (
                f"{'Cox' if cox else 'Poisson'} process, {'power law' if model == 'power' else model}",
                counting_process_stop(labels, model=model, cox=cox),
            )
            for cox in (False, True)
            for model in ("power", "exponential", "hyperbolic")
        ),
    ):
        t = stop or n
        add(rule, t, int(curve[t - 1]))
    for s in range(sample_seeds):
        add("rank then sample", *sample_stop(ranked, y, seed=1_000 * seed + s, patience=wait))
        add(
            "declared sample",
            *declared_sample_stop(ranked, y, seed=1_000 * seed + s, patience=wait),
        )
        permutation = np.random.default_rng([seed, s, 1]).permutation(n)
        hit = target_stop(ranked, y, permutation)
        add("target", *(hit if hit else (n, total)))
        # Its own random order, so that it does not share the target method's draws.
        permutation = np.random.default_rng([seed, s, 2]).permutation(n)
        hit = qbcb_stop(ranked, y, permutation, positives=QBCB_POSITIVES)
        add("QBCB (r = 59)", *(hit if hit else (n, total)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent.parent / "shared/fixtures/labelled"))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--sample-seeds", type=int, default=100)
    parser.add_argument("--stop-seeds", type=int, default=10, help="random draws per ranking")
    parser.add_argument("--sample-every", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "bench/out/recall.md"))
    parser.add_argument(
        "--stopping-only", action="store_true", help="skip the interval calibration"
    )
    parser.add_argument("--orders", default=str(ROOT / "bench/out/orders"))
    parser.add_argument(
        "--patience",
        type=float,
        default=0.05,
        help="excludes in a row, as a share of the records (at least 20), before the sample rules switch",
    )
    args = parser.parse_args()
    paths = sorted(Path(args.data).glob("*.csv"))
    if not paths:
        sys.exit(f"{args.data}: no labelled CSV files")
    started = time.perf_counter()
    results = []
    for path in paths:
        data = labelled_csv_read(path)
        y = np.asarray(data.labels)
        cal = {f: {"sample": [], "width": [], "quasi": [], "bound": []} for f in FRACTIONS}
        rule_runs: dict[str, list[tuple]] = {rule: [] for rule in RULES}
        for seed in range(args.seeds):
            ranked = ranked_order(data, seed, Path(args.orders))
            if not args.stopping_only:
                checks = calibration(y, ranked, args.sample_seeds, args.sample_every, seed)
                for f, c in checks.items():
                    for key, values in c.items():
                        cal[f][key] += values
            for rule, runs in stops(y, ranked, args.stop_seeds, seed, args.patience).items():
                rule_runs[rule] += runs
            print(
                f"{path.stem} seed {seed} done ({time.perf_counter() - started:.0f} s)", flush=True
            )
        results.append((path.stem, y.size, int(y.sum()), cal, rule_runs))
    write(args, results, time.perf_counter() - started)


def pct(values) -> str:
    return f"{100 * statistics.mean(values):.1f}" if values else "–"


def calibration_lines(args, results) -> list[str]:
    lines = [
        "",
        f"Coverage of the stated 95% interval (% of checks containing the true recall) by share "
        f"of records screened. `sample`: the new estimate, {args.seeds} rankings x "
        f"{args.sample_seeds} random sample orders per set, 1 in {args.sample_every} records "
        "served from the sample; `width`: its mean interval width (recall points); `quasi`: "
        "the old last-half quasi-sampling interval; `CMH bound`: share with true recall at or "
        f"above the inverted stopping test's bound ({args.seeds} rankings per set).",
        "",
        "| set (records, incl.) | method | " + " | ".join(f"{f:.0%}" for f in FRACTIONS) + " |",
        "|---|---|" + "---|" * len(FRACTIONS),
    ]
    worst = 1.0
    for name, n, total, cal, _rules in results:
        for key, label in (
            ("sample", "sample"),
            ("width", "width"),
            ("quasi", "quasi"),
            ("bound", "CMH bound"),
        ):
            if key == "width":
                cells = [f"{100 * statistics.mean(cal[f][key]):.0f}" for f in FRACTIONS]
            else:
                cells = [pct(cal[f][key]) for f in FRACTIONS]
            if key == "sample":
                worst = min(worst, *(statistics.mean(cal[f][key]) for f in FRACTIONS))
            lines.append(f"| {name} ({n}, {total}) | {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Lowest coverage of the sample interval at any set and fraction: {100 * worst:.1f}% "
        f"(target >= 93%: {'met' if worst >= 0.93 else 'MISSED'}).",
    ]
    return lines


def write(args, results, seconds: float) -> None:
    today = dt.date.today().isoformat()
    lines = [
        "## Recall estimate calibration and stopping rules",
        "",
        f"Run {today} by `bench/recall_calibration_bench.py --seeds {args.seeds} --sample-seeds "
        f"{args.sample_seeds} --stop-seeds {args.stop_seeds} --sample-every {args.sample_every}"
        f" --patience {args.patience}{' --stopping-only' if args.stopping_only else ''}` on: "
        f"{machine()}; "
        f"{seconds / 60:.0f} min. Ranking: elas_u4, priors one include and one exclude drawn "
        "with each ranking seed, retrained every max(1, records // 100) records. Target recall "
        "95%, confidence 95% throughout.",
    ]
    if not args.stopping_only:
        lines += calibration_lines(args, results)
    lines += [
        "",
        "Stopping rules: share of runs reaching 95% recall at the stop; records screened at the "
        "stop / records at the oracle point (first 95% recall in the ranked order), median and "
        "90th percentile; share of the collection screened at the stop (median). Target method "
        f"T = {target_size()} random includes (fewer in the set: screen everything).",
        "",
        "| set | rule | runs | recall >= 95% | stop / oracle (median, p90) | share screened |",
        "|---|---|---|---|---|---|",
    ]
    overall: dict[str, list[tuple]] = {rule: [] for rule in RULES}
    for name, n, _total, _cal, rule_runs in results:
        for rule in RULES:
            runs = rule_runs[rule]
            overall[rule] += [(r, s, o, n) for r, s, o in runs]
            ratio = [s / o for _r, s, o in runs]
            lines.append(
                f"| {name} | {rule} | {len(runs)} | {pct([r >= 0.95 - 1e-12 for r, _s, _o in runs])}% "
                f"| {statistics.median(ratio):.2f}, {np.percentile(ratio, 90):.2f} "
                f"| {statistics.median(s / n for _r, s, _o in runs):.2f} |"
            )
    lines += [
        "",
        "| all sets | rule | runs | recall >= 95% | stop / oracle (median) | meets both targets |",
        "|---|---|---|---|---|---|",
    ]
    for rule in RULES:
        runs = overall[rule]
        safe = statistics.mean(r >= 0.95 - 1e-12 for r, *_ in runs)
        ratio = statistics.median(s / o for _r, s, o, _n in runs)
        verdict = "yes" if safe >= 0.95 and ratio <= 1.5 else "no"
        if rule == "oracle switch + sample":
            verdict = "not a rule (needs the oracle)"
        lines.append(f"| | {rule} | {len(runs)} | {100 * safe:.1f}% | {ratio:.2f} | {verdict} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
