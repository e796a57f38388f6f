#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def _django_can_start() -> bool:
    """Whether the settings load (they refuse to without DJANGO_DEBUG=1 or a secret key)."""
    try:
        import reviewapp.settings  # noqa: F401
    except Exception:
        return False
    return True


# Pure computations on a file: they run as plain command-line tools too (`python -m ...`).
PURE_COMMANDS = {
    "pool": "reviewapp.synthesis.stats.cli",
    "simulate_screening": "reviewapp.screening.ranking.cli",
}


def main() -> None:
    if sys.argv[1:2] == ["pool"]:
        # `pool` is pure statistics on a file: run it before Django starts, which alone takes
        # longer than pooling 1,000 studies. Anything it cannot run exactly as the Django command
        # would (errors, --help, Django's own options) falls through to the Django command.
        from reviewapp.synthesis.stats.cli import fast_main

        if fast_main(sys.argv[2:], sys.stdout.write):
            return
    if sys.argv[1:2] and sys.argv[1] in PURE_COMMANDS and not _django_can_start():
        # Without a server's settings the pure commands still run, with the same output;
        # their errors and help are then argparse's rather than Django's.
        import importlib

        cli = importlib.import_module(PURE_COMMANDS[sys.argv[1]])
        sys.exit(cli.main(sys.argv[2:], prog=f"manage.py {sys.argv[1]}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
