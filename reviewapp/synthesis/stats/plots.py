"""Forest and funnel plots rendered to SVG or PNG bytes.

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas, never through pyplot, so
nothing leaks into global figure state and rendering is safe in web workers. SVG keeps text as
text (``svg.fonttype = "none"``, set only for the duration of the save).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.transforms import blended_transform_factory
from scipy import stats

from reviewapp.riskofbias.algorithms import JUDGEMENTS
from reviewapp.riskofbias.figures import COLOURS as ROB_COLOURS
from reviewapp.riskofbias.figures import SYMBOLS as ROB_SYMBOLS
from reviewapp.synthesis.stats.effect_sizes import EffectSizes
from reviewapp.synthesis.stats.results import PoolResult, StudyRow
from reviewapp.synthesis.stats.sensitivity import Cumulative
from reviewapp.synthesis.stats.subgroups import SubgroupResult
from reviewapp.synthesis.stats.transforms import back_transform

__all__ = [
    "FORMATS",
    "RobColumns",
    "axis_label",
    "cumulative_plot",
    "forest_plot",
    "funnel_plot",
    "heterogeneity_text",
]

FORMATS = ("svg", "png")

AXIS_LABELS = {
    "OR": "Odds ratio",
    "RR": "Risk ratio",
    "RD": "Risk difference",
    "MD": "Mean difference",
    "SMD": "Standardised mean difference (Hedges' g)",
    "PR": "Proportion",
    "PLO": "Proportion",
    "PFT": "Proportion",
    "COR": "Correlation",
    "ZCOR": "Correlation",
}
ANALYSIS_SCALE_LABELS = {
    "OR": "log odds ratio",
    "RR": "log risk ratio",
    "PLO": "logit proportion",
    "PFT": "Freeman-Tukey double arcsine",
    "ZCOR": "Fisher's z",
}

FONT = 10
ROW_HEIGHT = 0.28  # inches per forest-plot row
PNG_MAX_PIXELS = 20_000  # tallest PNG drawn (a row at 10 pt stays legible down to ~70 dpi)


def axis_label(measure: str, transform: str) -> str:
    """Axis title on the display (back-transformed) scale."""
    if measure == "GEN":
        return "Ratio" if transform == "exp" else "Estimate"
    return AXIS_LABELS.get(measure, measure)


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def heterogeneity_text(result: PoolResult) -> str:
    """ "Heterogeneity: τ² = …; I² = …%; Q = … (df = …, p = …)" for a pooled result."""
    parts = []
    if result.model == "random":
        parts.append(f"τ² = {result.tau2:.4g}")
    parts.append(f"I² = {result.I2:.0f}%")
    parts.append(f"Q = {result.Q:.2f} (df = {result.Q_df}, {_p_text(result.Q_p)})")
    return "Heterogeneity: " + "; ".join(parts)


def _model_label(result: PoolResult) -> str:
    if result.model == "fixed":
        name = {"MH": "Mantel-Haenszel", "PETO": "Peto"}.get(result.method, "inverse variance")
        return f"Common-effect model ({name})"
    extra = ", HKSJ" if result.test == "knha" else ""
    return f"Random-effects model ({result.method}{extra})"


def _digits(values: Sequence[float]) -> int:
    finite = [abs(v) for v in values if v is not None and np.isfinite(v) and v != 0]
    if finite and max(finite) < 0.1:
        return 4
    return 2


def _save(fig: Figure, fmt: str) -> bytes:
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"Unknown plot format {fmt!r}; use svg or png.")
    buf = io.BytesIO()
    dpi = 72
    if fmt == "png":
        # 200 dpi, but a forest plot of a thousand studies would then be 56,000 pixels tall (near
        # Agg's limit, and tens of megabytes); tall figures get the dpi that keeps them readable.
        dpi = min(200, int(PNG_MAX_PIXELS / fig.get_figheight()))
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "reviewapp"}):
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


@dataclass(frozen=True)
class RobColumns:
    """Risk-of-bias judgements to draw beside the studies, as robvis does: one column per domain
    (``domains``: short key and name) and one for the overall judgement. ``judgements`` maps a
    study label to its domain judgements and overall one ("low", "some", "high"...)."""

    domains: Sequence[tuple[str, str]]
    judgements: Mapping[str, tuple[Sequence[str | None], str | None]]
    title: str = "Risk of bias"

    def key_lines(self) -> list[str]:
        levels = [
            j
            for j in ROB_SYMBOLS
            if any(j in (*d, o) for d, o in self.judgements.values()) and j in JUDGEMENTS
        ]
        seen: set[str] = set()
        legend = []
        for j in levels:
            text = f"{ROB_SYMBOLS[j]} {JUDGEMENTS[j]}"
            if text not in seen:
                seen.add(text)
                legend.append(text)
        lines = [f"{self.title}: " + ",  ".join(legend)]
        lines += [f"{key}: {name}" for key, name in self.domains]
        return [*lines, "O: Overall risk of bias"]


def forest_plot(
    result: PoolResult | SubgroupResult,
    fmt: str = "svg",
    *,
    title: str | None = None,
    label_treatment: str | None = None,
    label_control: str | None = None,
    rob: RobColumns | None = None,
) -> bytes:
    """Forest plot: one row per study with weight and estimate [CI] columns, pooled diamond,
    prediction interval and heterogeneity line; subgroup blocks with their own diamonds when
    given a :class:`SubgroupResult`. Ratio measures are drawn on a log axis labelled in ratios.
    With ``rob``, each study's risk-of-bias judgements are drawn to the right as robvis's
    coloured lights with their symbols (readable without colour), the key below the plot.
    """
    blocks: list[tuple[str | None, PoolResult]]
    if isinstance(result, SubgroupResult):
        blocks = list(result.groups.items())
        overall = result.overall
    else:
        blocks = [(None, result)]
        overall = result
    transform = overall.transform
    log_axis = transform == "exp"

    # Lay the rows out top to bottom: (kind, payload); the kind says what the payload is, hence
    # the casts where the rows are drawn.
    rows: list[tuple[str, object]] = []
    for name, res in blocks:
        if name is not None:
            rows.append(("header", name))
        rows.extend(("study", s) for s in res.studies)
        if name is not None:
            studies = "1 study" if res.k == 1 else f"{res.k} studies"
            rows.append(("pooled", (res, f"Subtotal ({studies})")))
            rows.append(("het", res))
            rows.append(("blank", None))
    rows.append(("pooled", (overall, _model_label(overall))))
    if overall.pi_lb is not None:
        rows.append(("pi", overall))
    rows.append(("het", overall))
    if isinstance(result, SubgroupResult):
        rows.append(
            (
                "text",
                f"Test for subgroup differences: Q = {result.Q_between:.2f} "
                f"(df = {result.df}, {_p_text(result.pval)})",
            )
        )
        if result.moderator_test is not None:
            m = result.moderator_test
            stat = "F" if m.test == "knha" else "QM"
            rows.append(
                (
                    "text",
                    f"Moderator test, one τ² for all subgroups: {stat} = {m.QM:.2f} "
                    f"(df = {', '.join(map(str, m.QM_df))}, {_p_text(m.QM_p)})",
                )
            )
    for e in overall.excluded:
        rows.append(("text", f"Not pooled: {e.label} ({e.reason})"))
    # The risk-of-bias key goes below the x axis, clear of the plot's reference lines.
    key = rob.key_lines() if rob is not None else []
    key_inches = 0.2 * len(key) + (0.25 if key else 0.0)

    n = len(rows) + 1
    inches = ROW_HEIGHT * n + 1.2 + key_inches
    fig = _new_figure(11.0, max(2.5, inches))
    ax = fig.add_axes((0.30, (0.9 + key_inches) / inches, 0.34, 1 - (1.3 + key_inches) / inches))
    for i, line in enumerate(key):
        fig.text(
            0.02,
            (key_inches + 0.05 - 0.2 * i) / max(2.5, inches),
            line,
            ha="left",
            va="center",
            fontsize=FONT - 1,
        )
    ax.set_ylim(n - 0.5, -1.5)
    text_tf = blended_transform_factory(ax.transAxes, ax.transData)

    all_bt = [s.yi_bt for _, r in blocks for s in r.studies] + [overall.estimate_bt]
    digits = _digits(all_bt)

    def fmt_ci(est: float, lb: float, ub: float) -> str:
        return f"{est:.{digits}f} [{lb:.{digits}f}, {ub:.{digits}f}]"

    header_y = -1.0
    ax.text(
        -0.05,
        header_y,
        "Study",
        transform=text_tf,
        ha="right",
        va="center",
        fontsize=FONT,
        fontweight="bold",
    )
    ax.text(
        1.05,
        header_y,
        "Weight",
        transform=text_tf,
        ha="left",
        va="center",
        fontsize=FONT,
        fontweight="bold",
    )
    ax.text(
        1.25,
        header_y,
        f"{axis_label(overall.measure, transform)} [{overall.level * 100:.0f}% CI]",
        transform=text_tf,
        ha="left",
        va="center",
        fontsize=FONT,
        fontweight="bold",
    )

    if rob is not None:
        # The lights start right of the longest estimate [CI] text (about 0.6 em a character).
        header = f"{axis_label(overall.measure, transform)} [{overall.level * 100:.0f}% CI]"
        longest = max(
            [len(header)]
            + [len(fmt_ci(s.yi_bt, s.ci_lb_bt, s.ci_ub_bt)) for _, r in blocks for s in r.studies]
        )
        axes_inches = 0.34 * 11.0
        rob_x0 = 1.25 + (longest * 0.6 * FONT / 72) / axes_inches + 0.1
        rob_dx = 0.3 / axes_inches
        rob_columns = [key for key, _ in rob.domains] + ["Overall"]
        for i, name in enumerate(rob_columns):
            ax.text(
                rob_x0 + i * rob_dx,
                header_y,
                "O" if name == "Overall" else name,
                transform=text_tf,
                ha="center",
                va="center",
                fontsize=FONT - 1,
                fontweight="bold",
            )
        ax.text(
            rob_x0 + (len(rob_columns) - 1) * rob_dx / 2,
            header_y - 0.9,
            "Risk of bias",
            transform=text_tf,
            ha="center",
            va="center",
            fontsize=FONT - 1,
        )
    lights: list[tuple[float, float, str]] = []

    max_weight = max((s.weight for _, r in blocks for s in r.studies), default=1.0) or 1.0
    xs: list[float] = []
    # Study lines and squares are gathered into one collection each, drawn after the loop: a
    # Line2D per line and per square costs a millisecond apiece, minutes at thousands of studies.
    ci_segments: list[list[tuple[float, float]]] = []
    squares: list[tuple[float, float, float]] = []
    for y, (kind, payload) in enumerate(rows):
        if kind == "header":
            ax.text(
                -0.85,
                y,
                str(payload),
                transform=text_tf,
                ha="left",
                va="center",
                fontsize=FONT,
                fontweight="bold",
            )
        elif kind == "study":
            s = cast(StudyRow, payload)
            ci_segments.append([(s.ci_lb_bt, y), (s.ci_ub_bt, y)])
            squares.append((s.yi_bt, y, 4 + 10 * np.sqrt(s.weight / max_weight)))
            xs += [s.ci_lb_bt, s.ci_ub_bt]
            ax.text(-0.05, y, s.label, transform=text_tf, ha="right", va="center", fontsize=FONT)
            if rob is not None:
                domains, overall_j = rob.judgements.get(s.label, ((), None))
                cells = [*domains, overall_j] if domains else [None] * len(rob_columns)
                for i, judgement in enumerate(cells):
                    lights.append((rob_x0 + i * rob_dx, y, judgement or ""))
            ax.text(
                1.05,
                y,
                f"{s.weight:.1f}%",
                transform=text_tf,
                ha="left",
                va="center",
                fontsize=FONT,
            )
            ax.text(
                1.25,
                y,
                fmt_ci(s.yi_bt, s.ci_lb_bt, s.ci_ub_bt),
                transform=text_tf,
                ha="left",
                va="center",
                fontsize=FONT,
            )
        elif kind == "pooled":
            res, label = cast(tuple[PoolResult, str], payload)
            est, lb, ub = res.estimate_bt, res.ci_lb_bt, res.ci_ub_bt
            diamond = Polygon(
                [(lb, y), (est, y - 0.35), (ub, y), (est, y + 0.35)],
                closed=True,
                facecolor="#c0392b" if res is overall else "#e59866",
                edgecolor="black",
                lw=0.6,
            )
            ax.add_patch(diamond)
            xs += [lb, ub]
            ax.text(
                -0.05,
                y,
                label,
                transform=text_tf,
                ha="right",
                va="center",
                fontsize=FONT,
                fontweight="bold",
            )
            ax.text(
                1.05,
                y,
                "100.0%",
                transform=text_tf,
                ha="left",
                va="center",
                fontsize=FONT,
                fontweight="bold",
            )
            ax.text(
                1.25,
                y,
                fmt_ci(est, lb, ub),
                transform=text_tf,
                ha="left",
                va="center",
                fontsize=FONT,
                fontweight="bold",
            )
        elif kind == "pi":
            res = cast(PoolResult, payload)
            lo, hi = res.pi_lb_bt, res.pi_ub_bt
            if lo is None or hi is None:
                # The "pi" row is only added when the pooled result has a prediction interval.
                raise AssertionError("prediction interval row without an interval")
            ax.plot([lo, hi], [y, y], color="#c0392b", lw=2, solid_capstyle="butt")
            ax.plot([lo, lo], [y - 0.2, y + 0.2], color="#c0392b", lw=1.5)
            ax.plot([hi, hi], [y - 0.2, y + 0.2], color="#c0392b", lw=1.5)
            xs += [lo, hi]
            ax.text(
                -0.05,
                y,
                "Prediction interval",
                transform=text_tf,
                ha="right",
                va="center",
                fontsize=FONT,
            )
            ax.text(
                1.25,
                y,
                f"[{lo:.{digits}f}, {hi:.{digits}f}]",
                transform=text_tf,
                ha="left",
                va="center",
                fontsize=FONT,
            )
        elif kind == "het":
            ax.text(
                -0.85,
                y,
                heterogeneity_text(cast(PoolResult, payload)),
                transform=text_tf,
                ha="left",
                va="center",
                fontsize=FONT - 1,
            )
        elif kind == "text":
            ax.text(
                -0.85, y, str(payload), transform=text_tf, ha="left", va="center", fontsize=FONT - 1
            )

    if ci_segments:
        ax.add_collection(
            LineCollection(
                ci_segments, colors="black", linewidths=1, capstyle="projecting", zorder=2
            ),
            autolim=False,
        )
        sx, sy, size = (np.array(v) for v in zip(*squares, strict=True))
        # A scatter marker of area s points² has the side of a plot marker of size sqrt(s).
        ax.scatter(
            sx,
            sy,
            s=size**2,
            marker="s",
            color="#4a6fa5",
            edgecolors="black",
            linewidths=0.5,
            zorder=2.1,
        )
    if lights:
        lx, ly, lj = zip(*lights, strict=True)
        ax.scatter(
            lx,
            ly,
            s=110,
            marker="o",
            c=[ROB_COLOURS.get(j, "#FFFFFF") for j in lj],
            edgecolors="#333333",
            linewidths=0.6,
            transform=text_tf,
            clip_on=False,
            zorder=3,
        )
        for light_x, light_y, j in lights:
            ax.text(
                light_x,
                light_y,
                ROB_SYMBOLS.get(j, ""),
                transform=text_tf,
                ha="center",
                va="center",
                fontsize=FONT - 2,
                fontweight="bold",
                color="white" if j in ("high", "serious", "critical") else "black",
                zorder=4,
            )
    finite = [x for x in xs if x is not None and np.isfinite(x) and (not log_axis or x > 0)]
    if log_axis:
        ax.set_xscale("log")
        lo, hi = min(finite), max(finite)
        ax.set_xlim(lo / 1.3, hi * 1.3)
        ax.axvline(1.0, color="grey", lw=0.8, ls="-")
        _log_ticks(ax, lo / 1.3, hi * 1.3)
    else:
        lo, hi = min(finite), max(finite)
        pad = 0.08 * (hi - lo or 1.0)
        ax.set_xlim(lo - pad, hi + pad)
        if transform == "none" and overall.measure not in ("PR",):
            ax.axvline(0.0, color="grey", lw=0.8)
    ax.axvline(overall.estimate_bt, color="#c0392b", lw=0.8, ls=":")
    ax.set_xlabel(axis_label(overall.measure, transform), fontsize=FONT)
    ax.tick_params(axis="x", labelsize=FONT - 1)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if label_treatment or label_control:
        ax.text(
            0.0,
            -0.12,
            f"Favours {label_treatment or 'treatment'}",
            transform=ax.transAxes,
            ha="left",
            va="top",
            fontsize=FONT - 1,
        )
        ax.text(
            1.0,
            -0.12,
            f"Favours {label_control or 'control'}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=FONT - 1,
        )
    if title:
        fig.suptitle(title, fontsize=FONT + 2)
    return _save(fig, fmt)


def _log_ticks(ax, lo: float, hi: float) -> None:
    candidates = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100])
    ticks = candidates[(candidates >= lo) & (candidates <= hi)]
    if len(ticks) < 3:
        ticks = np.unique(np.round(np.geomspace(lo, hi, 4), 2))
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()


def funnel_plot(
    effects: EffectSizes,
    result: PoolResult,
    fmt: str = "svg",
    *,
    title: str | None = None,
    filled_yi: Sequence[float] | np.ndarray | None = None,
    filled_vi: Sequence[float] | np.ndarray | None = None,
) -> bytes:
    """Funnel plot: estimates against their standard errors (inverted axis) with pseudo 95%
    confidence limits estimate ± 1.96·SE around the pooled estimate (Sterne & Egger 2001).
    Ratio measures are drawn on a log axis labelled in ratios; other measures on the analysis
    scale, where the funnel is symmetric. With ``filled_yi``/``filled_vi`` (trim-and-fill), the
    filled studies are drawn as open circles and ``result`` should be the filled model, as
    metafor's ``funnel(trimfill(...))`` draws it.
    """
    sei = np.sqrt(effects.vi)
    filled_y = np.asarray(filled_yi if filled_yi is not None else [], dtype=float)
    filled_se = np.sqrt(np.asarray(filled_vi if filled_vi is not None else [], dtype=float))
    sei_all = np.concatenate([sei, filled_se]) if filled_se.size else sei
    se_max = float(sei_all.max()) * 1.1 or 1.0
    grid = np.linspace(0, se_max, 50)
    z = stats.norm.isf((1 - result.level) / 2)
    ratio = effects.transform == "exp"
    centre = result.estimate

    def x(values: np.ndarray) -> np.ndarray:
        return back_transform(values, "exp") if ratio else values

    fig = _new_figure(6.0, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    ax.fill_betweenx(grid, x(centre - z * grid), x(centre + z * grid), color="#eeeeee", zorder=0)
    ax.plot(x(centre - z * grid), grid, color="grey", ls="--", lw=0.8)
    ax.plot(x(centre + z * grid), grid, color="grey", ls="--", lw=0.8)
    ax.axvline(float(x(np.array(centre))), color="#c0392b", lw=1)
    ax.scatter(
        x(effects.yi), sei, s=28, color="#4a6fa5", edgecolor="black", linewidth=0.5, zorder=3
    )
    if filled_y.size:
        ax.scatter(
            x(filled_y),
            filled_se,
            s=28,
            facecolor="white",
            edgecolor="black",
            linewidth=0.8,
            zorder=3,
            label=f"Filled by trim-and-fill ({filled_y.size})",
        )
        ax.legend(loc="lower left", fontsize=FONT - 1, frameon=False)
    ax.set_ylim(se_max, 0)
    ax.set_ylabel("Standard error", fontsize=FONT)
    if ratio:
        ax.set_xscale("log")
        values = np.concatenate(
            [x(effects.yi), x(filled_y), x(centre - z * grid), x(centre + z * grid)]
        )
        _log_ticks(ax, float(values.min()), float(values.max()))
        ax.set_xlabel(
            f"{axis_label(effects.measure, effects.transform)} (log scale)", fontsize=FONT
        )
    else:
        name = ANALYSIS_SCALE_LABELS.get(effects.measure) or axis_label(effects.measure, "none")
        ax.set_xlabel(name[0].upper() + name[1:], fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    if title:
        ax.set_title(title, fontsize=FONT + 1)
    return _save(fig, fmt)


def cumulative_plot(cum: Cumulative, fmt: str = "svg", *, title: str | None = None) -> bytes:
    """Cumulative forest plot (metafor ``forest(cumul(res))``): row j is the model pooled on the
    first j studies, labelled with the study added and its order value (its year)."""
    results = cum.results
    if not results:
        raise ValueError("A cumulative plot needs at least one study.")
    transform = results[0].transform
    log_axis = transform == "exp"
    n = len(results) + 1
    height = ROW_HEIGHT * n + 1.2
    fig = _new_figure(10.0, max(2.5, height))
    ax = fig.add_axes((0.34, 0.9 / height, 0.36, 1 - 1.3 / height))
    ax.set_ylim(n - 0.5, -1.5)
    text_tf = blended_transform_factory(ax.transAxes, ax.transData)
    digits = _digits([r.estimate_bt for r in results])
    ax.text(
        -0.05,
        -1.0,
        "Added (order)",
        transform=text_tf,
        ha="right",
        va="center",
        fontsize=FONT,
        fontweight="bold",
    )
    ax.text(
        1.05,
        -1.0,
        f"{axis_label(results[0].measure, transform)} [95% CI]",
        transform=text_tf,
        ha="left",
        va="center",
        fontsize=FONT,
        fontweight="bold",
    )
    xs: list[float] = []
    for y, (label, value, res) in enumerate(
        zip(cum.labels, cum.order_values, results, strict=True)
    ):
        est, lb, ub = res.estimate_bt, res.ci_lb_bt, res.ci_ub_bt
        ax.plot([lb, ub], [y, y], color="black", lw=1)
        if y == len(results) - 1:
            ax.add_patch(
                Polygon(
                    [(lb, y), (est, y - 0.3), (ub, y), (est, y + 0.3)],
                    closed=True,
                    facecolor="#c0392b",
                    edgecolor="black",
                    lw=0.6,
                    zorder=3,
                )
            )
        ax.plot([est], [y], marker="s", color="#4a6fa5", markeredgecolor="black", ms=5)
        xs += [lb, ub]
        order = f"{value:g}" if isinstance(value, float) else str(value)
        ax.text(
            -0.05,
            y,
            f"+ {label} ({order})",
            transform=text_tf,
            ha="right",
            va="center",
            fontsize=FONT,
        )
        ax.text(
            1.05,
            y,
            f"{est:.{digits}f} [{lb:.{digits}f}, {ub:.{digits}f}]  k = {res.k}",
            transform=text_tf,
            ha="left",
            va="center",
            fontsize=FONT,
        )
    finite = [x for x in xs if x is not None and np.isfinite(x) and (not log_axis or x > 0)]
    lo, hi = min(finite), max(finite)
    if log_axis:
        ax.set_xscale("log")
        ax.set_xlim(lo / 1.3, hi * 1.3)
        ax.axvline(1.0, color="grey", lw=0.8)
        _log_ticks(ax, lo / 1.3, hi * 1.3)
    else:
        pad = 0.08 * (hi - lo or 1.0)
        ax.set_xlim(lo - pad, hi + pad)
        if transform == "none" and results[0].measure not in ("PR",):
            ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_xlabel(axis_label(results[0].measure, transform), fontsize=FONT)
    ax.tick_params(axis="x", labelsize=FONT - 1)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=FONT + 2)
    return _save(fig, fmt)
