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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from reviewapp.synthesis.stats.effect_sizes import BINARY_MEASURES, EffectSizes
from reviewapp.synthesis.stats.io import (
    MEASURES,
    PoolingInputError,
    read_effects_csv,
    read_study_columns,
)
from reviewapp.synthesis.stats.pooling import pool
from reviewapp.synthesis.stats.results import PoolResult
from reviewapp.synthesis.stats.tau2 import TAU2_METHODS, ConvergenceError

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
    parser.add_argument(
        "--subgroup",
        metavar="COLUMN",
        help="Pool within each value of COLUMN and test for subgroup differences.",
    )
    parser.add_argument(
        "--moderators",
        metavar="COL[,COL...]",
        help="Meta-regression on these columns (numbers, or categories as dummy variables).",
    )
    parser.add_argument(
        "--cumulative",
        metavar="COLUMN",
        help="Cumulative meta-analysis, adding studies in the order of COLUMN (a year, say).",
    )
    parser.add_argument(
        "--trim-and-fill",
        nargs="?",
        const="L0",
        choices=("L0", "R0"),
        type=str.upper,
        metavar="L0|R0",
        help="Trim-and-fill with the L0 (default) or R0 estimator.",
    )
    parser.add_argument("--leave-one-out", action="store_true", help="Leave-one-out analysis.")
    parser.add_argument(
        "--exclude-high-risk",
        metavar="COLUMN",
        help="Sensitivity analysis: pool again without the studies whose COLUMN (an overall "
        "risk-of-bias judgement) is high, serious or critical.",
    )
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

    moderators = [c.strip() for c in (options.get("moderators") or "").split(",") if c.strip()]
    extras = [
        name
        for name in (
            options.get("subgroup"),
            *moderators,
            options.get("cumulative"),
            options.get("exclude_high_risk"),
        )
        if name
    ]
    if method in ("MH", "PETO") and moderators:
        raise PoolCommandError(
            f"--moderators needs inverse-variance pooling, not --method {method}."
        )
    if method in ("MH", "PETO") and options.get("trim_and_fill"):
        raise PoolCommandError(
            f"--trim-and-fill needs inverse-variance pooling, not --method {method}."
        )
    try:
        effects = read_effects_csv(options["csv_file"], measure, ratio=options["ratio"])
        result = pool(effects, model=model, method=method, hksj=options["hksj"])
        columns = read_study_columns(options["csv_file"], dict.fromkeys(extras))
        analyses = _analyses(effects, columns, options, model, method, moderators)
    except PoolingInputError as exc:
        raise PoolCommandError(str(exc)) from exc
    except ValueError as exc:
        raise PoolCommandError(f"{options['csv_file']}: {exc}") from exc
    except ConvergenceError as exc:
        # As metafor: an iterative estimator may not converge on some data; say which way out.
        raise PoolCommandError(
            f"{options['csv_file']}: {exc} Another --method (DL, PM or ML) may converge."
        ) from exc

    if plots:
        # matplotlib takes longer to import than pooling takes: only when a plot is asked for.
        from reviewapp.synthesis.stats.plots import forest_plot, funnel_plot

    try:
        if "plot_forest" in plots:
            path, fmt = plots["plot_forest"]
            # With --subgroup the forest plot has a block per subgroup.
            path.write_bytes(forest_plot(analyses.get("subgroups") or result, fmt))
        if "plot_funnel" in plots:
            path, fmt = plots["plot_funnel"]
            taf = analyses.get("trim_and_fill")
            if taf is not None:
                image = funnel_plot(
                    effects,
                    taf.result,
                    fmt,
                    filled_yi=taf.filled_yi,
                    filled_vi=taf.filled_vi,
                )
            else:
                image = funnel_plot(effects, result, fmt)
            path.write_bytes(image)
    except OSError as exc:
        raise PoolCommandError(f"Cannot write plot: {exc}") from exc

    if options["json"]:
        out = result.to_dict()
        for key, value in analyses.items():
            out[key] = value.to_dict()
        return json.dumps(out, allow_nan=False)
    return "\n\n".join([format_table(result), *format_analyses(analyses)])


def _file_rows(effects: EffectSizes, n_rows: int) -> list[int]:
    """For each pooled study, its position among the file's data rows."""
    if effects.table_rows:
        return list(effects.table_rows)
    if effects.k != n_rows:
        raise AssertionError("only 2x2 data leave studies out of the analysis")
    return list(range(n_rows))


def _cells(
    columns: dict[str, list[tuple[int, str]]], name: str, rows: list[int], source: str
) -> list[str]:
    cells = [columns[name][i] for i in rows]
    for number, cell in cells:
        if not cell:
            raise PoolingInputError("cell is empty.", source=source, row=number, column=name)
    return [cell for _, cell in cells]


def _numbers(
    columns: dict[str, list[tuple[int, str]]], name: str, rows: list[int], source: str
) -> list[float] | None:
    """The column as numbers, or None when a cell is not a number (a categorical column)."""
    values = []
    for cell in _cells(columns, name, rows, source):
        try:
            value = float(cell)
        except ValueError:
            return None
        if not math.isfinite(value):
            return None
        values.append(value)
    return values


def _analyses(
    effects: EffectSizes,
    columns: dict[str, list[tuple[int, str]]],
    options: Mapping[str, Any],
    model: str,
    method: str,
    moderators: list[str],
) -> dict[str, Any]:
    """The analyses asked for beside the pooled result, by JSON key."""
    source = str(options["csv_file"])
    n_rows = len(next(iter(columns.values()))) if columns else effects.k
    rows = _file_rows(effects, n_rows)
    hksj = options["hksj"]
    out: dict[str, Any] = {}
    # Each analysis imports its module only when asked for: subgroups.py imports scipy.stats,
    # which takes several times longer than a plain pool (issue 13 item 7).
    if options.get("subgroup"):
        from reviewapp.synthesis.stats.subgroups import subgroup_analysis

        groups = _cells(columns, options["subgroup"], rows, source)
        out["subgroups"] = subgroup_analysis(effects, groups, model=model, method=method, hksj=hksj)
    if moderators:
        from reviewapp.synthesis.stats.subgroups import factor_design, meta_regression

        blocks, names = [np.ones((effects.k, 1))], ["intrcpt"]
        for name in moderators:
            numbers = _numbers(columns, name, rows, source)
            if numbers is not None:
                blocks.append(np.array(numbers)[:, None])
                names.append(name)
            else:
                # Categories, as R's factor(): treatment contrasts against the first level.
                dummies, levels = factor_design(_cells(columns, name, rows, source))
                blocks.append(dummies[:, 1:])
                names += [f"{name}{level}" for level in levels[1:]]
        out["meta_regression"] = meta_regression(
            effects, np.hstack(blocks), names, method=method, hksj=hksj
        )
    if options.get("cumulative"):
        from reviewapp.synthesis.stats.sensitivity import cumulative

        name = options["cumulative"]
        order: list[Any] | None = _numbers(columns, name, rows, source)
        if order is None:
            order = _cells(columns, name, rows, source)
        out["cumulative"] = cumulative(effects, order, model=model, method=method, hksj=hksj)
    if options.get("trim_and_fill"):
        from reviewapp.synthesis.stats.sensitivity import trim_and_fill

        out["trim_and_fill"] = trim_and_fill(
            effects,
            model=model,
            method=None if model == "fixed" else method,
            estimator=options["trim_and_fill"],
        )
    if options.get("leave_one_out"):
        from reviewapp.synthesis.stats.subgroups import leave_one_out

        out["leave_one_out"] = leave_one_out(effects, model=model, method=method, hksj=hksj)
    if options.get("exclude_high_risk"):
        judgements = _cells(columns, options["exclude_high_risk"], rows, source)
        high = np.array([j.strip().lower() in HIGH_RISK for j in judgements])
        if high.all():
            raise ValueError("every study is at high risk of bias: none is left to pool.")
        out["excluding_high_risk"] = ExcludingHighRisk(
            excluded=tuple(label for label, h in zip(effects.labels, high, strict=True) if h),
            result=pool(effects.subset(~high), model=model, method=method, hksj=hksj),
        )
    return out


# Overall judgements left out by --exclude-high-risk: RoB 2 and QUADAS-2 "high", ROBINS-I
# "serious" and "critical" (Cochrane Handbook 7.6.2 and 25.5).
HIGH_RISK = frozenset({"high", "serious", "critical"})


@dataclass(frozen=True)
class ExcludingHighRisk:
    """The model refitted without the studies judged at high risk of bias."""

    excluded: tuple[str, ...]
    result: PoolResult

    def to_dict(self) -> dict[str, Any]:
        return {"excluded": list(self.excluded), "result": self.result.to_dict()}


def format_analyses(analyses: Mapping[str, Any]) -> list[str]:
    """Plain-text sections for the analyses beside the pooled result."""
    sections = []
    sub = analyses.get("subgroups")
    if sub is not None:
        lines = ["Subgroups"]
        for name, res in sub.groups.items():
            lines.append(
                f"  {name[:28]:<28} k = {res.k:<4} {res.estimate:>9.4f} "
                f"[{res.ci_lb:.4f}, {res.ci_ub:.4f}]  tau² = {res.tau2:.4f}, I² = {res.I2:.2f}%"
            )
        lines.append(
            f"Test for subgroup differences (separate fits): Q = {sub.Q_between:.4f} "
            f"(df = {sub.df}, p = {_p(sub.pval)})"
        )
        m = sub.moderator_test
        if m is not None:
            lines.append(
                f"Test for subgroup differences (one tau², metafor mods = ~ factor): "
                f"QM = {m.QM:.4f} (df = {', '.join(map(str, m.QM_df))}, p = {_p(m.QM_p)})"
            )
        sections.append("\n".join(lines))
    reg = analyses.get("meta_regression")
    if reg is not None:
        stat = "t" if reg.test == "knha" else "z"
        lines = [
            f"Meta-regression ({reg.method}, k = {reg.k})",
            f"  {'':<24} {'estimate':>10} {'se':>9} {stat + 'val':>9} {'pval':>9} "
            f"{'ci.lb':>10} {'ci.ub':>10}",
        ]
        for i, name in enumerate(reg.names):
            lines.append(
                f"  {name[:24]:<24} {reg.beta[i]:>10.4f} {reg.se[i]:>9.4f} {reg.stat[i]:>9.4f} "
                f"{_p(reg.pval[i]):>9} {reg.ci_lb[i]:>10.4f} {reg.ci_ub[i]:>10.4f}"
            )
        r2 = "NA" if reg.R2 is None else f"{reg.R2:.2f}%"
        lines.append(
            f"QM = {reg.QM:.4f} (df = {', '.join(map(str, reg.QM_df))}, p = {_p(reg.QM_p)}); "
            f"QE = {reg.QE:.4f} (df = {reg.QE_df}, p = {_p(reg.QE_p)}); "
            f"tau² = {reg.tau2:.4f}; I² = {reg.I2:.2f}%; R² = {r2}"
        )
        sections.append("\n".join(lines))
    cum = analyses.get("cumulative")
    if cum is not None:
        lines = ["Cumulative meta-analysis"]
        for row in cum.rows():
            lines.append(
                f"  + {str(row['added'])[:26]:<26} k = {row['k']:<4} {row['estimate']:>9.4f} "
                f"[{row['ci_lb']:.4f}, {row['ci_ub']:.4f}]  tau² = {row['tau2']:.4f}, "
                f"I² = {row['I2']:.2f}%"
            )
        sections.append("\n".join(lines))
    taf = analyses.get("trim_and_fill")
    if taf is not None:
        res = taf.result
        p_k0 = f", p = {_p(taf.p_k0)}" if taf.p_k0 is not None else ""
        sections.append(
            f"Trim-and-fill ({taf.estimator}): {taf.k0} studies missing on the {taf.side} side "
            f"(SE = {taf.se_k0:.4f}{p_k0}); with them, k = {res.k}, estimate {res.estimate:.4f} "
            f"[{res.ci_lb:.4f}, {res.ci_ub:.4f}], tau² = {res.tau2:.4f}"
        )
    high = analyses.get("excluding_high_risk")
    if high is not None:
        res = high.result
        sections.append(
            f"Excluding high risk of bias ({len(high.excluded)} studies: "
            f"{', '.join(high.excluded) or 'none'}): k = {res.k}, estimate {res.estimate:.4f} "
            f"[{res.ci_lb:.4f}, {res.ci_ub:.4f}], tau² = {res.tau2:.4f}, I² = {res.I2:.2f}%"
        )
    loo = analyses.get("leave_one_out")
    if loo is not None:
        lines = ["Leave-one-out"]
        for label, res in zip(loo.omitted, loo.results, strict=True):
            lines.append(
                f"  - {label[:26]:<26} {res.estimate:>9.4f} [{res.ci_lb:.4f}, {res.ci_ub:.4f}]"
                f"  tau² = {_num(res.tau2)}, I² = {res.I2:.2f}%"
            )
        sections.append("\n".join(lines))
    return sections


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
