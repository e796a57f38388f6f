"""Recall curves of a simulation study with the stopping rules' stop points marked."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reviewapp.screening.ranking.study import RULE_NAMES, StudyRun

__all__ = ["PLOT_FORMATS", "recall_plot"]

PLOT_FORMATS = (".png", ".svg")
# One marker per rule, so stops stay apart in black and white and for colour-blind readers.
_MARKERS = {
    "oracle": "*",
    "cmh": "o",
    "rank_then_sample": "s",
    "knee": "^",
    "budget": "v",
    "target": "D",
}


def recall_plot(runs: Sequence[StudyRun], path: str | Path) -> Path:
    """Write one panel per dataset: recall against share of records screened, one line per
    seed, a dashed line for random order and each rule's stop point marked on its seed's curve.
    The format follows the suffix, PNG or SVG (ValueError otherwise)."""
    path = Path(path)
    if path.suffix.lower() not in PLOT_FORMATS:
        raise ValueError(f"{path}: the plot must be a .png or .svg file")
    if not runs:
        raise ValueError("no runs to plot")
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window, and no display needed on a server
    import matplotlib.pyplot as plt

    groups: dict[str, list[StudyRun]] = {}
    for run in runs:
        groups.setdefault(run.dataset, []).append(run)
    columns = min(3, len(groups))
    rows = math.ceil(len(groups) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 3.6 * rows), squeeze=False, sharey=True
    )
    colours = plt.get_cmap("tab10")
    for ax, (name, group) in zip(axes.flat, groups.items(), strict=False):
        n = group[0].n_records
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="random order")
        for i, run in enumerate(group):
            x = np.arange(1, n + 1) / n
            ax.plot(x, run.curve, color=colours(i % 10), linewidth=1, label=f"seed {run.seed}")
            for rule, (screened, recall) in run.stops.items():
                ax.plot(
                    screened / n,
                    recall,
                    marker=_MARKERS.get(rule, "x"),
                    color=colours(i % 10),
                    markeredgecolor="black",
                    markersize=7,
                    linestyle="none",
                )
        ax.axhline(0.95, color="grey", linewidth=0.5, linestyle=":")
        ax.set_title(f"{name} ({n} records, {group[0].n_includes} incl.)", fontsize=9)
        ax.set_xlabel("share of records screened")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(linewidth=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("recall")
    for ax in list(axes.flat)[len(groups) :]:
        ax.set_visible(False)
    # One legend for the figure: the seeds of the first panel, then a black marker per rule.
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for rule, marker in _MARKERS.items():
        handles.append(
            plt.Line2D([], [], marker=marker, color="black", linestyle="none", markersize=7)
        )
        labels.append(RULE_NAMES[rule])
    fig.tight_layout()
    # Below the panels; bbox_inches="tight" grows the canvas to hold it.
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0),
        ncol=min(4, columns * 2),
        fontsize=8,
        frameon=False,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
