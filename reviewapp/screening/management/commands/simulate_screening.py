"""``manage.py simulate_screening``: replay a labelled review with the ranking model, print JSON.

A thin interface over :mod:`reviewapp.screening.ranking`: reading and checking the CSV is
``labelled_csv_read``, the simulation is ``simulate``; this file only maps options and errors.
It needs Django's settings to run but touches no database.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from reviewapp.screening.ranking import (
    DEFAULT_PRESET,
    PRESETS,
    LabelledDataError,
    labelled_csv_read,
    simulate,
)
from reviewapp.screening.ranking.recall import stop_points

# How the plain output names the stopping rules (ranking/recall.py, ranking/stopping.py).
RULE_NAMES = {
    "oracle": "oracle (first 95% recall)",
    "cmh": "Callaghan & Müller-Hansen test",
    "rank_then_sample": "rank then random sample",
    "knee": "knee (Cormack & Grossman)",
    "budget": "budget (Cormack & Grossman)",
    "target": "target (Cormack & Grossman)",
}


class Command(BaseCommand):
    help = (
        "Simulate prioritised screening of a labelled CSV (title, abstract and label_included "
        "or included as 0/1) from the given prior rows; print the order, WSS@95, RRF@10 and where "
        "each stopping rule stops (--json: one JSON object with order, wss95, rrf10, seconds "
        "and stops)."
    )
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
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

    def handle(self, *args, **options):
        if options["retrain_every"] < 1:
            raise CommandError("--retrain-every must be at least 1")
        try:
            data = labelled_csv_read(options["csv_file"])
            priors = data.prior_rows_check(options["prior_idx"])
        except LabelledDataError as exc:
            raise CommandError(str(exc)) from exc
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
            self.stdout.write(
                json.dumps({**result.to_dict(), "stops": {k: list(v) for k, v in stops.items()}})
            )
            return
        self.stdout.write(
            f"{data.path}: {len(result.order)} records, {sum(data.labels)} included, "
            f"priors {priors}, preset {result.preset}, seed {result.seed}\n"
            f"WSS@95 {_number(result.wss95)}  RRF@10 {_number(result.rrf10)}  "
            f"{result.seconds:.2f} s, {result.retrains} retrains\n"
            f"order: {' '.join(map(str, result.order))}"
        )
        self.stdout.write("stopping rules (target recall 95%, confidence 95%):")
        for key, (screened, recall) in stops.items():
            self.stdout.write(
                f"  {RULE_NAMES[key]:<32} stops after {screened:>6} records, recall {recall:.3f}"
            )


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
