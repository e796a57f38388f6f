"""The ``simulate_screening`` command line, without Django.

One implementation for ``manage.py simulate_screening`` (the Django command is a thin wrapper)
and for ``python -m reviewapp.screening.ranking``: replaying a labelled review is pure
computation and needs no settings, no database and no secret key (issue 17 point 6).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reviewapp.screening.ranking import (
    DEFAULT_PRESET,
    PRESETS,
    LabelledData,
    LabelledDataError,
    labelled_csv_read,
)
from reviewapp.screening.ranking.plots import PLOT_FORMATS, recall_plot
from reviewapp.screening.ranking.study import (
    RULE_NAMES,
    StudyRun,
    labelled_paths,
    study_run,
    study_table,
)

HELP = (
    "Simulate prioritised screening of a labelled CSV (title, abstract and label_included "
    "or included as 0/1), or of every CSV in a folder. With --prior-idx on one file: print the "
    "order, WSS@95, RRF@10 and where each stopping rule stops (--json: one JSON object). "
    "Otherwise priors (one include, one exclude) are drawn with each of --seeds seeds and a "
    "table gives WSS@95, recall at 10% and 25% and each stopping rule's stop point and recall "
    "(--json: one object per run); --plot FILE.png|.svg draws the recall curves with the stop "
    "points marked."
)


class SimulationCommandError(Exception):
    """Bad options or a bad file: the message is for the user, the exit code is 1."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv_file", metavar="path", help="labelled CSV file, or a folder of them")
    parser.add_argument(
        "--prior-idx",
        nargs="+",
        type=int,
        metavar="ROW",
        help="prior rows of one file, 0-based, with at least one include and one exclude "
        "(default: one include and one exclude drawn with each seed)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the classifier (the first)")
    parser.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="run N seeds (--seed, --seed + 1, ...) and print the table",
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET)
    parser.add_argument(
        "--retrain-every", type=int, default=1, metavar="N", help="retrain after N labels"
    )
    parser.add_argument("--plot", metavar="FILE", help="write recall curves to FILE (.png/.svg)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def simulate_command(options: Mapping[str, Any]) -> str:
    """Read the file(s), run the simulation(s), return the text to print."""
    if options["retrain_every"] < 1:
        raise SimulationCommandError("--retrain-every must be at least 1")
    seeds = options.get("seeds")
    if seeds is not None and seeds < 1:
        raise SimulationCommandError("--seeds must be at least 1")
    plot = options.get("plot")
    if plot and Path(plot).suffix.lower() not in PLOT_FORMATS:
        raise SimulationCommandError(f"--plot {plot}: give a file ending in .png or .svg")
    try:
        paths = labelled_paths(options["csv_file"])
        if options.get("prior_idx") and (len(paths) > 1 or Path(options["csv_file"]).is_dir()):
            raise SimulationCommandError(
                "--prior-idx names rows of one file; with a folder the priors are drawn with "
                "each seed"
            )
        datasets = [labelled_csv_read(p) for p in paths]
        priors = (
            datasets[0].prior_rows_check(options["prior_idx"]) if options.get("prior_idx") else None
        )
    except LabelledDataError as exc:
        raise SimulationCommandError(str(exc)) from exc
    seed_list = list(range(options["seed"], options["seed"] + (seeds or 1)))
    runs = []
    for data in datasets:
        for seed in seed_list:
            try:
                runs.append(
                    study_run(
                        data,
                        seed,
                        preset=options["preset"],
                        priors=priors,
                        retrain_every=options["retrain_every"],
                    )
                )
            except ValueError as exc:  # e.g. a file with no include: nothing to draw priors from
                raise SimulationCommandError(f"{data.path}: {exc}") from exc
    if plot:
        recall_plot(runs, plot)
    if priors is not None and seeds is None:
        return _single(runs[0], datasets[0], options["json"])
    if options["json"]:
        return json.dumps([run.to_dict() for run in runs])
    preset = runs[0].result.preset
    head = (
        f"{len(datasets)} labelled set(s), seeds {seed_list[0]}..{seed_list[-1]}, preset {preset}, "
        + (
            f"priors {priors}"
            if priors is not None
            else "priors: one include and one exclude drawn with each seed"
        )
        + "; metrics exclude the priors (asreview-insights' definitions)"
    )
    tail = [f"plot written to {plot}"] if plot else []
    return "\n".join([head, "", study_table(runs), *tail])


def _single(run: StudyRun, data: LabelledData, as_json: bool) -> str:
    result, stops = run.result, run.stops
    if as_json:
        return json.dumps({**result.to_dict(), "stops": {k: list(v) for k, v in stops.items()}})
    lines = [
        f"{data.path}: {len(result.order)} records, {sum(data.labels)} included, "
        f"priors {run.priors}, preset {result.preset}, seed {result.seed}",
        f"WSS@95 {_number(result.wss95)}  RRF@10 {_number(result.rrf10)}  "
        f"{result.seconds:.2f} s, {result.retrains} retrains",
        f"order: {' '.join(map(str, result.order))}",
        "stopping rules (target recall 95%, confidence 95%):",
    ]
    lines += [
        f"  {RULE_NAMES[key]:<32} stops after {screened:>6} records, recall {recall:.3f}"
        for key, (screened, recall) in stops.items()
    ]
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m reviewapp.screening.ranking"
) -> int:
    """Run as a plain command-line tool: the output of ``manage.py simulate_screening``."""
    parser = argparse.ArgumentParser(prog=prog, description=HELP)
    add_arguments(parser)
    options = parser.parse_args(argv)
    try:
        text = simulate_command(vars(options))
    except SimulationCommandError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
