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
from typing import Any

from reviewapp.screening.ranking import (
    DEFAULT_PRESET,
    PRESETS,
    LabelledDataError,
    labelled_csv_read,
    simulate,
)
from reviewapp.screening.ranking.recall import stop_points

HELP = (
    "Simulate prioritised screening of a labelled CSV (title, abstract and label_included "
    "or included as 0/1) from the given prior rows; print the order, WSS@95, RRF@10 and where "
    "each stopping rule stops (--json: one JSON object with order, wss95, rrf10, seconds "
    "and stops)."
)


# How the plain output names the stopping rules (ranking/recall.py, ranking/stopping.py).
RULE_NAMES = {
    "oracle": "oracle (first 95% recall)",
    "cmh": "Callaghan & Müller-Hansen test",
    "rank_then_sample": "rank then random sample",
    "knee": "knee (Cormack & Grossman)",
    "budget": "budget (Cormack & Grossman)",
    "target": "target (Cormack & Grossman)",
}


class SimulationCommandError(Exception):
    """Bad options or a bad file: the message is for the user, the exit code is 1."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv_file", help="labelled CSV file")
    parser.add_argument(
        "--prior-idx",
        nargs="+",
        type=int,
        required=True,
        metavar="ROW",
        help="prior rows, 0-based, with at least one include and one exclude",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the classifier")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET)
    parser.add_argument(
        "--retrain-every", type=int, default=1, metavar="N", help="retrain after N labels"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def simulate_command(options: Mapping[str, Any]) -> str:
    """Read the file, run the simulation, return the text to print."""
    if options["retrain_every"] < 1:
        raise SimulationCommandError("--retrain-every must be at least 1")
    try:
        data = labelled_csv_read(options["csv_file"])
        priors = data.prior_rows_check(options["prior_idx"])
    except LabelledDataError as exc:
        raise SimulationCommandError(str(exc)) from exc
    result = simulate(
        data.texts,
        data.labels,
        priors,
        preset=options["preset"],
        seed=options["seed"],
        retrain_every=options["retrain_every"],
    )
    stops = stop_points(result.order, data.labels, seed=options["seed"])
    if options["json"]:
        return json.dumps({**result.to_dict(), "stops": {k: list(v) for k, v in stops.items()}})
    lines = [
        f"{data.path}: {len(result.order)} records, {sum(data.labels)} included, "
        f"priors {priors}, preset {result.preset}, seed {result.seed}",
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
