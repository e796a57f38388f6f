"""``manage.py simulate_screening``: replay a labelled review with the ranking model, print JSON.

A thin interface over :mod:`reviewapp.screening.ranking.cli`, which also runs without Django
(``python -m reviewapp.screening.ranking``); this file only maps errors. It touches no database.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from reviewapp.screening.ranking.cli import (
    HELP,
    SimulationCommandError,
    add_arguments,
    simulate_command,
)


class Command(BaseCommand):
    help = HELP
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        try:
            text = simulate_command(options)
        except SimulationCommandError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(text)
