"""``manage.py pool``: pool the studies in a CSV file and print the result.

A thin interface over :mod:`reviewapp.synthesis.stats.cli`, which holds the arguments, the checks
and the report; ``manage.py`` runs that same code before Django starts when it can (see
``fast_main`` there), so both give the same output.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from reviewapp.synthesis.stats.cli import HELP, PoolCommandError, add_arguments, pool_command


class Command(BaseCommand):
    help = HELP
    # Pure statistics on a file: no database, no URLs. The system checks would import every view
    # of the project (a third of a second) for nothing.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        try:
            text = pool_command(options)
        except PoolCommandError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(text)
