"""The ``pool`` command line: read a CSV of studies, pool them, print the result. No Django.

One implementation serves two entries: the Django command ``manage.py pool`` (a thin wrapper in
``reviewapp/synthesis/management/commands/pool.py``) and ``manage.py``'s fast path, which calls
:func:`fast_main` before Django is set up. Django's start-up (settings, apps, the Celery app) takes
longer than pooling 1,000 studies, and the command needs none of it (issue 13 item 7).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from reviewapp.synthesis.stats.effect_sizes import BINARY_MEASURES
from reviewapp.synthesis.stats.io import MEASURES, PoolingInputError, read_effects_csv
from reviewapp.synthesis.stats.pooling import pool
from reviewapp.synthesis.stats.results import PoolResult
from reviewapp.synthesis.stats.tau2 import TAU2_METHODS

FIXED_METHODS = ("FE", "MH", "PETO")
HELP = "Pool the studies of a CSV file (column 'study' plus the measure's data columns)."


class PoolCommandError(Exception):
    """Bad options or a bad file: the message is for the user, the exit code is 1."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's own arguments, on Django's parser or on :func:`fast_main`'s."""
    parser.add_argument("csv_file", help="CSV with a 'study' column and the data columns.")
    parser.add_argument("--measure", required=True, choices=MEASURES, type=str.upper)
    parser.add_argument("--model", required=True, choices=("fixed", "random"), type=str.lower)
    parser.add_argument(
        "--method",
        type=str.upper,
        choices=(*FIXED_METHODS, *TAU2_METHODS),
        help="fixed: FE (default), MH or PETO; random: tau² estimator (default REML).",
    )
    parser.add_argument("--hksj", action="store_true", help="Hartung-Knapp-Sidik-Jonkman CI.")
    parser.add_argument(
        "--ratio",
        action="store_true",
        help="GEN only: estimate, lower, upper are ratios on their natural scale.",
    )
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument("--plot-forest", metavar="FILE", help="Write a forest plot (.svg/.png).")
    parser.add_argument("--plot-funnel", metavar="FILE", help="Write a funnel plot (.svg/.png).")


def pool_command(options: Mapping[str, Any]) -> str:
    """Check the options, read and pool the file, write any plots; return the text to print.

    ``options`` are the parsed arguments of :func:`add_arguments`. Raises PoolCommandError with a
    message naming the option, or the file, row and column at fault.
    """
    measure, model = options["measure"], options["model"]
    method = options["method"] or ("FE" if model == "fixed" else "REML")
    if model == "fixed" and method not in FIXED_METHODS:
        raise PoolCommandError(f"--method {method} needs --model random.")
    if model == "random" and method in FIXED_METHODS:
        raise PoolCommandError(f"--method {method} needs --model fixed.")
    if method == "MH" and measure not in BINARY_MEASURES:
        raise PoolCommandError("--method MH works with --measure OR, RR or RD only.")
    if method == "PETO" and measure != "OR":
        raise PoolCommandError("--method PETO works with --measure OR only.")
    if options["hksj"] and model != "random":
        raise PoolCommandError("--hksj applies to --model random only.")
    if options["ratio"] and measure != "GEN":
        raise PoolCommandError("--ratio applies to --measure GEN only.")
    plots = {}
    for key in ("plot_forest", "plot_funnel"):
        if options[key]:
            suffix = Path(options[key]).suffix.lower().lstrip(".")
            if suffix not in ("svg", "png"):
                raise PoolCommandError(f"--{key.replace('_', '-')} must end in .svg or .png.")
            plots[key] = (Path(options[key]), suffix)

    try:
        effects = read_effects_csv(options["csv_file"], measure, ratio=options["ratio"])
        result = pool(effects, model=model, method=method, hksj=options["hksj"])
    except PoolingInputError as exc:
        raise PoolCommandError(str(exc)) from exc
    except ValueError as exc:
        raise PoolCommandError(f"{options['csv_file']}: {exc}") from exc

    if plots:
        # matplotlib takes longer to import than pooling takes: only when a plot is asked for.
        from reviewapp.synthesis.stats.plots import forest_plot, funnel_plot

    try:
        if "plot_forest" in plots:
            path, fmt = plots["plot_forest"]
            path.write_bytes(forest_plot(result, fmt))
        if "plot_funnel" in plots:
            path, fmt = plots["plot_funnel"]
            path.write_bytes(funnel_plot(effects, result, fmt))
    except OSError as exc:
        raise PoolCommandError(f"Cannot write plot: {exc}") from exc

    if options["json"]:
        return json.dumps(result.to_dict(), allow_nan=False)
    return format_table(result)


class _Defer(Exception):
    """The fast path leaves this command line to Django."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Defer(message)


def fast_main(argv: Sequence[str], write: Callable[[str], object]) -> bool:
    """Run ``pool`` with the arguments after ``manage.py pool``, if it can run the same as Django.

    Returns True when it has written the result (the exit code is 0). Returns False, having
    written nothing, when the command line is one for Django: its own options (``--help``,
    ``--settings``, ``--traceback``, ``-v``...), abbreviations, anything that does not parse, and
    every error, so that ``manage.py`` runs the Django command, whose usage text, error message
    (``CommandError: ...``, coloured on a terminal) and exit code are then exactly Django's.
    An error costs Django's start-up on top; a success, which is what users wait for, does not.
    """
    # No help and no abbreviations: '-h' and '--h' mean something else to Django's parser.
    parser = _Parser(prog="manage.py pool", add_help=False, allow_abbrev=False)
    add_arguments(parser)
    try:
        options = parser.parse_args(list(argv))
        text = pool_command(vars(options))
    except (_Defer, PoolCommandError):
        return False
    # As Django's OutputWrapper writes it: one line ending.
    write(text if text.endswith("\n") else text + "\n")
    return True


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "NA"
    return f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    return "NA" if value is None or not math.isfinite(value) else f"{value:.4g}"


def format_table(result: PoolResult) -> str:
    """A plain-text report of a pooled result."""
    ratio = result.transform != "none"
    lines = [
        f"Measure {result.measure}, {result.model} model, method {result.method}"
        + (" with HKSJ" if result.test == "knha" else "")
        + f", k = {result.k}",
        "",
        f"{'Study':<30} {'yi':>9} {'95% CI':>21} {'Weight':>8}"
        + (f" {'back-transformed':>26}" if ratio else ""),
    ]
    for s in result.studies:
        line = (
            f"{s.label[:30]:<30} {s.yi:>9.4f} [{s.ci_lb:>8.4f}, {s.ci_ub:>8.4f}] {s.weight:>7.1f}%"
        )
        if ratio:
            line += f" {s.yi_bt:>8.4f} [{s.ci_lb_bt:>7.4f}, {s.ci_ub_bt:>7.4f}]"
        lines.append(line)
    for e in result.excluded:
        lines.append(f"{e.label[:30]:<30} excluded: {e.reason}")
    stat = (
        f"t({result.df}) = {_num(result.stat)}"
        if result.test == "knha"
        else f"z = {_num(result.stat)}"
    )
    lines += [
        "",
        f"Estimate {result.estimate:.4f} (SE {result.se:.4f}), "
        f"95% CI [{result.ci_lb:.4f}, {result.ci_ub:.4f}], {stat}, p = {_p(result.pval)}",
    ]
    if ratio:
        lines.append(
            f"Back-transformed {result.estimate_bt:.4f} "
            f"[{result.ci_lb_bt:.4f}, {result.ci_ub_bt:.4f}]"
        )
    if result.pi_lb is not None:
        pi = f"Prediction interval [{result.pi_lb:.4f}, {result.pi_ub:.4f}]"
        if ratio:
            pi += f", back-transformed [{result.pi_lb_bt:.4f}, {result.pi_ub_bt:.4f}]"
        lines.append(pi)
    lines.append(
        f"Heterogeneity: tau² = {_num(result.tau2)} "
        f"[{_num(result.tau2_ci_lb)}, {_num(result.tau2_ci_ub)}], "
        f"I² = {result.I2:.2f}%, H² = {result.H2:.4f}, "
        f"Q = {result.Q:.4f} (df = {result.Q_df}, p = {result.Q_p:.4g})"
    )
    lines += [f"Note: {note}" for note in result.notes]
    return "\n".join(lines)


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m reviewapp.synthesis.stats"
) -> int:
    """Run ``pool`` as a plain command-line tool, without Django's settings (issue 17 point 6).

    The output is that of ``manage.py pool``; errors go to stderr with exit code 1.
    """
    import sys

    parser = argparse.ArgumentParser(prog=prog, description=HELP)
    add_arguments(parser)
    options = parser.parse_args(argv)
    try:
        text = pool_command(vars(options))
    except PoolCommandError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
