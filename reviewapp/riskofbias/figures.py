"""Risk-of-bias figures as robvis draws them (McGuinness & Higgins, Res Synth Methods 2021;12:55-61):
the traffic-light table (one row per study, one column per domain and the overall judgement) and
the weighted summary bar chart (per domain, the share of studies - or of weight - at each level).

Pure: no Django. Built on ``matplotlib.figure.Figure`` with an Agg canvas, never pyplot, like
``synthesis/stats/plots.py``. Colour-blind safe: the colours are Okabe-Ito hues that differ in
lightness as well as hue, and every traffic light also carries robvis's symbol (+, -, X, ?, !),
so the table reads in greyscale.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Patch

from reviewapp.riskofbias.algorithms import JUDGEMENTS

__all__ = [
    "COLOURS",
    "FORMATS",
    "RobRow",
    "summary_plot",
    "summary_shares",
    "traffic_light_plot",
]

FORMATS = ("svg", "png")
# Okabe & Ito (2008) palette; text on each stays legible (checked in tests for contrast).
COLOURS = {
    "low": "#009E73",  # bluish green
    "some": "#F0E442",  # yellow
    "moderate": "#F0E442",
    "high": "#D55E00",  # vermilion
    "serious": "#D55E00",
    "critical": "#7A1F00",  # dark vermilion
    "unclear": "#56B4E9",  # sky blue
    "no-info": "#56B4E9",
}
SYMBOLS = {
    "low": "+",
    "some": "-",
    "moderate": "-",
    "high": "X",
    "serious": "X",
    "critical": "!",
    "unclear": "?",
    "no-info": "?",
}
# Darker hues take white symbols, lighter ones black.
_WHITE_TEXT = frozenset({"high", "serious", "critical"})
MISSING = "#FFFFFF"


@dataclass(frozen=True)
class RobRow:
    """One study (or result) of the figure: its domain judgements and the overall one."""

    label: str
    domains: Sequence[str | None]
    overall: str | None
    weight: float = 1.0


def _save(fig: Figure, fmt: str) -> bytes:
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"Unknown figure format {fmt!r}; use svg or png.")
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "reviewapp"}):
        fig.savefig(buf, format=fmt, dpi=200 if fmt == "png" else 72, bbox_inches="tight")
    return buf.getvalue()


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _levels(rows: Sequence[RobRow], levels: Sequence[str]) -> list[str]:
    present = {j for row in rows for j in (*row.domains, row.overall) if j}
    return [level for level in levels if level in present]


def traffic_light_plot(
    rows: Sequence[RobRow],
    domains: Sequence[tuple[str, str]],
    levels: Sequence[str],
    *,
    fmt: str = "svg",
    title: str = "",
) -> bytes:
    """The traffic-light table: studies down, domains (D1...) and "Overall" across; the domain
    names and the judgement key below, as robvis lays them out."""
    columns = [key for key, _ in domains] + ["Overall"]
    n_rows, n_cols = max(len(rows), 1), len(columns)
    cell = 0.5  # inches per row and per column, so the lights are round
    label_width = max([len(r.label) for r in rows] + [8]) * 0.085 + 0.2
    table_height = cell * (n_rows + 1)
    legend_height = 0.16 * len(domains) + 0.75
    width = label_width + cell * n_cols + 0.2
    height = table_height + legend_height
    fig = _new_figure(width, height)
    ax = fig.add_axes(
        (label_width / width, legend_height / height, cell * n_cols / width, table_height / height)
    )
    ax.set_xlim(-0.5, n_cols - 0.5)
    ax.set_ylim(n_rows - 0.5, -1.5)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    for col, name in enumerate(columns):
        ax.text(col, -1.0, name, ha="center", va="center", fontsize=9, weight="bold")
    for index, row in enumerate(rows):
        ax.text(-0.6, index, row.label, ha="right", va="center", fontsize=9)
        for col, judgement in enumerate((*row.domains, row.overall)):
            colour = COLOURS.get(judgement or "", MISSING)
            ax.add_patch(Circle((col, index), 0.36, facecolor=colour, edgecolor="#333333", lw=0.6))
            if judgement:
                ax.text(
                    col,
                    index,
                    SYMBOLS[judgement],
                    ha="center",
                    va="center",
                    fontsize=9,
                    weight="bold",
                    color="white" if judgement in _WHITE_TEXT else "black",
                )
    if not rows:
        ax.text(n_cols / 2, 0, "No consensus judgements yet", ha="center", va="center")
    key_lines = [f"{key}: {name}" for key, name in domains]
    fig.text(0.01, 0.55 / height, "\n".join(key_lines), fontsize=7, va="bottom")
    handles = [
        Patch(
            facecolor=COLOURS[level],
            edgecolor="#333333",
            label=f"{SYMBOLS[level]} {JUDGEMENTS[level]}",
        )
        for level in _levels(rows, levels)
    ]
    if handles:
        fig.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(0.01, 0.0),
            ncol=min(len(handles), 4),
            fontsize=7,
            frameon=False,
            title="Judgement",
            title_fontsize=7,
        )
    return _save(fig, fmt)


def summary_shares(
    rows: Sequence[RobRow], n_domains: int, levels: Sequence[str], *, weighted: bool = True
) -> list[dict[str, float]]:
    """Per domain and then overall, the percentage of studies (of their weight, if
    ``weighted``) at each level; a study not judged in a domain is left out of that bar."""
    bars = []
    for position in range(n_domains + 1):
        judged = [
            (row.domains[position] if position < n_domains else row.overall, row.weight)
            for row in rows
        ]
        weights = [(j, w if weighted else 1.0) for j, w in judged if j]
        total = sum(w for _, w in weights) or 1.0
        bars.append({lv: 100 * sum(w for j, w in weights if j == lv) / total for lv in levels})
    return bars


def summary_plot(
    rows: Sequence[RobRow],
    domains: Sequence[tuple[str, str]],
    levels: Sequence[str],
    *,
    fmt: str = "svg",
    weighted: bool = True,
    title: str = "",
) -> bytes:
    """The summary bar chart: per domain (and overall), the percentage of studies - weighted by
    ``RobRow.weight`` when ``weighted`` - judged at each level; unjudged studies are left out."""
    bars = [name for _, name in domains] + ["Overall risk of bias"]
    fig = _new_figure(8.0, 0.45 * len(bars) + 1.3)
    ax = fig.add_axes((0.38, 0.28, 0.6, 0.65))
    for position, bar in enumerate(summary_shares(rows, len(domains), levels, weighted=weighted)):
        left = 0.0
        y = len(bars) - 1 - position
        for level, share in bar.items():
            if share:
                ax.barh(y, share, left=left, color=COLOURS[level], edgecolor="#333333", lw=0.5)
                left += share
    ax.set_yticks(range(len(bars)), list(reversed(bars)), fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"], fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    handles = [
        Patch(facecolor=COLOURS[level], edgecolor="#333333", label=JUDGEMENTS[level])
        for level in _levels(rows, levels)
    ]
    if handles:
        fig.legend(
            handles=handles,
            loc="lower center",
            ncol=len(handles),
            fontsize=8,
            frameon=False,
            bbox_to_anchor=(0.6, 0.0),
        )
    return _save(fig, fmt)
