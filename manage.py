#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    if sys.argv[1:2] == ["pool"]:
        # `pool` is pure statistics on a file: run it before Django starts, which alone takes
        # longer than pooling 1,000 studies. Anything it cannot run exactly as the Django command
        # would (errors, --help, Django's own options) falls through to the Django command.
        from reviewapp.synthesis.stats.cli import fast_main

        if fast_main(sys.argv[2:], sys.stdout.write):
            return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
