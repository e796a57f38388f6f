"""The PRISMA 2020 flow diagram drawn with matplotlib, as SVG, PNG or PDF bytes.

The layout follows the template for new and updated systematic reviews that searched databases,
registers and other sources (Page et al. BMJ 2021;372:n71, Figure 1): the Identification /
Screening / Included phase bands on the left, the databases-and-registers arm with its exclusion
boxes on the right, the "previous studies" column only for an update with studies carried over,
and the other-methods arm only when it found anything.

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas, never through pyplot, so no
global figure state is left behind. Geometry is in points (1 data unit = 1/72 inch), text is
measured with the font that draws it and wrapped to the box, and each box is as tall as its lines,
so nothing overflows. Every entry point calls ``prisma.check`` before drawing anything.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape as xml_escape

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.textpath import TextToPath

from reviewapp.reporting.prisma import PrismaCounts, check

__all__ = [
    "BOX_NAMES",
    "FORMATS",
    "diagram_figure",
    "diagram_text",
    "diagram_title",
    "render",
    "render_pdf",
    "render_png",
    "render_svg",
]

FORMATS = ("svg", "png", "pdf")
# Keys of the ``urls`` argument: the template field that heads each drawn box.
BOX_NAMES = (
    "previous_studies",
    "database_results",
    "duplicates",
    "website_results",
    "records_screened",
    "records_excluded",
    "dbr_sought_reports",
    "dbr_notretrieved_reports",
    "other_sought_reports",
    "other_notretrieved_reports",
    "dbr_assessed",
    "dbr_excluded",
    "other_assessed",
    "other_excluded",
    "new_studies",
    "total_studies",
    "total_studies_ma",
)

FONT_FAMILY = "DejaVu Sans"  # ships with matplotlib, so measured and drawn widths agree
FONT_SIZE = 8.0
TITLE_SIZE = 8.5
PHASE_SIZE = 9.0
PAD_X = 6.0
PAD_Y = 5.0
INDENT = 8.0
COL_W = 140.0
GAP_X = 20.0
GAP_Y = 20.0
BAND_W = 22.0
BAND_GAP = 10.0
MARGIN = 12.0
PNG_DPI = 300

WHITE = "#ffffff"
GREY_BOX = "#ebebeb"
GREY_TITLE = "#d9d9d9"
YELLOW_TITLE = "#ffc125"  # Goldenrod1, the R package's title colour
BLUE_PHASE = "#bcd2ee"  # LightSteelBlue2, as the R package's phase boxes
LINE_COLOUR = "#000000"

_N_TOKEN = re.compile(r"\(n = [^)]*\)")
_NBSP = "\u00a0"
_text_to_path = TextToPath()


# Wrapping measures the same prefixes many times over.
@functools.lru_cache(maxsize=4096)
def _width(text: str, size: float = FONT_SIZE, bold: bool = False) -> float:
    prop = FontProperties(family=FONT_FAMILY, size=size, weight="bold" if bold else "normal")
    width, _, _ = _text_to_path.get_text_width_height_descent(text, prop, ismath=False)
    return width


def _n(value: int | None) -> str:
    return f"(n = {value:,})" if value is not None else "(n = )"


@dataclass
class _Line:
    text: str
    indent: int = 0
    heading: bool = False  # headings wrap flush; list entries hang under their first word


@dataclass
class _Box:
    key: str
    lines: list[_Line]
    align: str = "center"  # "center" or "left"
    fill: str = WHITE
    rounded: bool = False
    size: float = FONT_SIZE
    bold: bool = False
    wrapped: list[_Line] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0
    w: float = COL_W
    h: float = 0.0

    def wrap(self, width: float) -> None:
        """Fit the lines to ``width`` points and size the box to them."""
        self.w = width
        inner = width - 2 * PAD_X
        self.wrapped = []
        for line in self.lines:
            hangs = self.align == "left" and not line.heading
            first = inner - line.indent * INDENT
            rest = first - (INDENT if hangs else 0)
            for i, text in enumerate(self._wrap_text(line.text, first, rest)):
                self.wrapped.append(_Line(text, line.indent + (1 if hangs and i else 0)))
        self.h = 2 * PAD_Y + len(self.wrapped) * self.size * 1.25

    def _wrap_text(self, text: str, first: float, rest: float) -> list[str]:
        # "(n = 205)" stays on one line: a count split from its parenthesis reads as garbage.
        protected = _N_TOKEN.sub(lambda m: m.group(0).replace(" ", _NBSP), text)
        out: list[str] = []
        current = ""
        for word in protected.split(" "):
            limit = first if not out else rest
            candidate = f"{current} {word}" if current else word
            if _width(candidate.replace(_NBSP, " "), self.size, self.bold) <= limit:
                current = candidate
                continue
            if current:
                out.append(current)
                limit = rest
            # A single word wider than the box is cut, rather than allowed to spill out.
            while _width(word.replace(_NBSP, " "), self.size, self.bold) > limit and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and _width(word[:cut] + "-", self.size, self.bold) > limit:
                    cut -= 1
                out.append(word[:cut] + "-")
                word = word[cut:]
            current = word
        out.append(current)
        return [s.replace(_NBSP, " ") for s in out]


def _named_lines(heading: str, total: int, named: Mapping[str, int], indent: int) -> list[_Line]:
    if not named:
        return [_Line(f"{heading} {_n(total)}", indent)]
    lines = [_Line(f"{heading} {_n(total)}:", indent, heading=True)]
    lines += [_Line(f"{name} {_n(n)}", indent + 1) for name, n in named.items()]
    return lines


def _excluded_box(key: str, total: int, reasons: Mapping[str, int], fill: str) -> _Box:
    if not reasons:
        return _Box(key, [_Line("Reports excluded"), _Line(_n(total))], fill=fill)
    lines = [_Line(f"Reports excluded {_n(total)}:", heading=True)]
    lines += [_Line(f"{reason} {_n(n)}", 1) for reason, n in reasons.items()]
    return _Box(key, lines, align="left", fill=fill)


def _count_box(key: str, label: str, value: int | None, fill: str = WHITE) -> _Box:
    return _Box(key, [_Line(label), _Line(_n(value))], fill=fill)


@dataclass
class _Layout:
    width: float
    height: float
    boxes: list[_Box]
    titles: list[_Box]
    bands: list[tuple[str, float, float]]  # label, top, bottom
    arrows: list[list[tuple[float, float]]]  # polylines; the last segment carries the head


def _layout(counts: PrismaCounts) -> _Layout:
    previous = counts.has_previous
    other = counts.uses_other_methods
    columns = (
        (["prev"] if previous else []) + ["dbr", "dbr_x"] + (["oth", "oth_x"] if other else [])
    )
    first_x = MARGIN + BAND_W + BAND_GAP
    col_x = {name: first_x + i * (COL_W + GAP_X) for i, name in enumerate(columns)}
    width = first_x + len(columns) * COL_W + (len(columns) - 1) * GAP_X + MARGIN

    titles = [
        _Box(
            "title_dbr",
            [_Line("Identification of new studies via databases and registers")],
            fill=YELLOW_TITLE,
            rounded=True,
            size=TITLE_SIZE,
            bold=True,
        )
    ]
    titles[0].x = col_x["dbr"]
    titles[0].wrap(2 * COL_W + GAP_X)
    if previous:
        title = _Box(
            "title_prev",
            [_Line("Previous studies")],
            fill=GREY_TITLE,
            rounded=True,
            size=TITLE_SIZE,
            bold=True,
        )
        title.x = col_x["prev"]
        title.wrap(COL_W)
        titles.append(title)
    if other:
        title = _Box(
            "title_oth",
            [_Line("Identification of new studies via other methods")],
            fill=GREY_TITLE,
            rounded=True,
            size=TITLE_SIZE,
            bold=True,
        )
        title.x = col_x["oth"]
        title.wrap(2 * COL_W + GAP_X)
        titles.append(title)
    title_h = max(t.h for t in titles)
    for t in titles:
        t.y = MARGIN
        t.h = title_h

    new_label, reports_label = (
        ("New studies included in review", "Reports of new included studies")
        if previous
        else ("Studies included in review", "Reports of included studies")
    )
    included = _Box(
        "new_studies",
        [
            _Line(new_label),
            _Line(_n(counts.new_studies)),
            _Line(reports_label),
            _Line(_n(counts.new_reports)),
        ],
    )
    grey = GREY_BOX
    rows: list[dict[str, _Box]] = [
        {
            "dbr": _Box(
                "database_results",
                [
                    _Line("Records identified from:", heading=True),
                    *_named_lines("Databases", counts.database_results, counts.databases, 1),
                    *_named_lines("Registers", counts.register_results, counts.registers, 1),
                ],
                align="left",
            ),
            "dbr_x": _Box(
                "duplicates",
                [
                    _Line("Records removed before screening:", heading=True),
                    _Line(f"Duplicate records removed {_n(counts.duplicates)}", 1),
                    _Line(
                        "Records marked as ineligible by automation tools "
                        f"{_n(counts.excluded_automatic)}",
                        1,
                    ),
                    _Line(f"Records removed for other reasons {_n(counts.excluded_other)}", 1),
                ],
                align="left",
            ),
        },
        {
            "dbr": _count_box("records_screened", "Records screened", counts.records_screened),
            "dbr_x": _count_box("records_excluded", "Records excluded", counts.records_excluded),
        },
        {
            "dbr": _count_box(
                "dbr_sought_reports", "Reports sought for retrieval", counts.dbr_sought_reports
            ),
            "dbr_x": _count_box(
                "dbr_notretrieved_reports", "Reports not retrieved", counts.dbr_notretrieved_reports
            ),
        },
        {
            "dbr": _count_box(
                "dbr_assessed", "Reports assessed for eligibility", counts.dbr_assessed
            ),
            "dbr_x": _excluded_box(
                "dbr_excluded", counts.dbr_excluded, counts.dbr_excluded_reasons, WHITE
            ),
        },
        {"dbr": included},
    ]
    if previous:
        rows[0]["prev"] = _Box(
            "previous_studies",
            [
                _Line(
                    f"Studies included in previous version of review {_n(counts.previous_studies)}"
                ),
                _Line(
                    "Reports of studies included in previous version of review "
                    f"{_n(counts.previous_reports)}"
                ),
            ],
            fill=grey,
        )
        rows.append(
            {
                "dbr": _Box(
                    "total_studies",
                    [
                        _Line(f"Total studies included in review {_n(counts.total_studies)}"),
                        _Line(f"Reports of total included studies {_n(counts.total_reports)}"),
                    ],
                )
            }
        )
    if other:
        rows[0]["oth"] = _Box(
            "website_results",
            [
                _Line("Records identified from:", heading=True),
                _Line(f"Websites {_n(counts.website_results)}", 1),
                _Line(f"Organisations {_n(counts.organisation_results)}", 1),
                _Line(f"Citation searching {_n(counts.citations_results)}", 1),
            ],
            align="left",
            fill=grey,
        )
        rows[2]["oth"] = _count_box(
            "other_sought_reports",
            "Reports sought for retrieval",
            counts.other_sought_reports,
            grey,
        )
        rows[2]["oth_x"] = _count_box(
            "other_notretrieved_reports",
            "Reports not retrieved",
            counts.other_notretrieved_reports,
            grey,
        )
        rows[3]["oth"] = _count_box(
            "other_assessed", "Reports assessed for eligibility", counts.other_assessed, grey
        )
        rows[3]["oth_x"] = _excluded_box(
            "other_excluded", counts.other_excluded, counts.other_excluded_reasons, grey
        )
    if counts.has_meta_analysis:
        rows.append(
            {
                "dbr": _Box(
                    "total_studies_ma",
                    [
                        _Line(
                            f"Total studies included in meta-analysis {_n(counts.total_studies_ma)}"
                        ),
                        _Line(
                            "Reports of total included studies in meta-analysis "
                            f"{_n(counts.total_reports_ma)}"
                        ),
                    ],
                )
            }
        )

    for row in rows:
        for col, box in row.items():
            box.x = col_x[col]
            box.wrap(COL_W)
    row_h = [max(b.h for b in row.values()) for row in rows]

    # The phase bands must be tall enough for their rotated label; grow the band's last row.
    phase_rows = [("Identification", [0]), ("Screening", [1, 2, 3])]
    phase_rows.append(("Included", list(range(4, len(rows)))))
    band_ext = GAP_Y / 2 - 3
    for label, idx in phase_rows:
        span = sum(row_h[i] for i in idx) + GAP_Y * (len(idx) - 1) + 2 * band_ext
        need = _width(label, PHASE_SIZE, bold=True) + 16
        if span < need:
            row_h[idx[-1]] += need - span

    row_top = []
    y = MARGIN + title_h + GAP_Y
    for h in row_h:
        row_top.append(y)
        y += h + GAP_Y
    height = y - GAP_Y + MARGIN
    for row, top, h in zip(rows, row_top, row_h, strict=True):
        for box in row.values():
            box.y = top + (h - box.h) / 2
    bands = [
        (
            label,
            row_top[idx[0]] - band_ext,
            row_top[idx[-1]] + row_h[idx[-1]] + band_ext,
        )
        for label, idx in phase_rows
    ]

    def centre_x(box: _Box) -> float:
        return box.x + box.w / 2

    def centre_y(i: int) -> float:
        return row_top[i] + row_h[i] / 2

    arrows: list[list[tuple[float, float]]] = []

    def down(upper: _Box, lower: _Box) -> None:
        arrows.append([(centre_x(upper), upper.y + upper.h), (centre_x(lower), lower.y)])

    def across(i: int, left: _Box, right: _Box) -> None:
        arrows.append([(left.x + left.w, centre_y(i)), (right.x, centre_y(i))])

    for i in range(len(rows) - 1):
        down(rows[i]["dbr"], rows[i + 1]["dbr"])
    for i in range(4):
        across(i, rows[i]["dbr"], rows[i]["dbr_x"])
    if other:
        down(rows[0]["oth"], rows[2]["oth"])
        down(rows[2]["oth"], rows[3]["oth"])
        across(2, rows[2]["oth"], rows[2]["oth_x"])
        across(3, rows[3]["oth"], rows[3]["oth_x"])
        # Reports from other methods join the new studies, as in the template.
        source = rows[3]["oth"]
        arrows.append(
            [
                (centre_x(source), source.y + source.h),
                (centre_x(source), centre_y(4)),
                (included.x + included.w, centre_y(4)),
            ]
        )
    if previous:
        prev, total = rows[0]["prev"], rows[5]["dbr"]
        arrows.append(
            [
                (centre_x(prev), prev.y + prev.h),
                (centre_x(prev), centre_y(5)),
                (total.x, centre_y(5)),
            ]
        )

    boxes = [box for row in rows for box in row.values()]
    return _Layout(width, height, boxes, titles, bands, arrows)


def _draw_box(ax, box: _Box, url: str | None) -> None:
    style = "round,pad=0,rounding_size=6" if box.rounded else "square,pad=0"
    patch = FancyBboxPatch(
        (box.x, box.y),
        box.w,
        box.h,
        boxstyle=style,
        facecolor=box.fill,
        edgecolor=LINE_COLOUR,
        linewidth=0.8,
    )
    patch.set_gid(f"prisma-box-{box.key}")
    if url:
        patch.set_url(url)
    ax.add_patch(patch)
    line_h = box.size * 1.25
    top = box.y + (box.h - len(box.wrapped) * line_h) / 2
    for i, line in enumerate(box.wrapped):
        if box.align == "left":
            x, ha = box.x + PAD_X + line.indent * INDENT, "left"
        else:
            x, ha = box.x + box.w / 2, "center"
        text = ax.text(
            x,
            top + (i + 0.5) * line_h,
            line.text,
            ha=ha,
            va="center",
            fontsize=box.size,
            fontfamily=FONT_FAMILY,
            fontweight="bold" if box.bold else "normal",
        )
        text.set_gid(f"prisma-text-{box.key}-{i}")
        if url:
            text.set_url(url)


def diagram_figure(counts: PrismaCounts, urls: Mapping[str, str] | None = None) -> Figure:
    """The flow diagram as a matplotlib ``Figure`` (with an Agg canvas) for checked counts.

    ``urls`` maps names from ``BOX_NAMES`` to links; SVG output wraps each linked box and its
    text in ``<a>``. Raises ``PrismaInconsistent`` before drawing anything if the counts do not
    add up, and ``ValueError`` for a url key that names no box.
    """
    check(counts)
    urls = dict(urls or {})
    unknown = sorted(set(urls) - set(BOX_NAMES))
    if unknown:
        raise ValueError(f"urls has keys that are not diagram boxes: {unknown}.")
    layout = _layout(counts)
    fig = Figure(figsize=(layout.width / 72, layout.height / 72))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, layout.width)
    ax.set_ylim(layout.height, 0)  # y grows downwards, like the diagram is read
    ax.set_axis_off()
    for label, top, bottom in layout.bands:
        band = FancyBboxPatch(
            (MARGIN, top),
            BAND_W,
            bottom - top,
            boxstyle="round,pad=0,rounding_size=5",
            facecolor=BLUE_PHASE,
            edgecolor="none",
        )
        band.set_gid(f"prisma-phase-{label.lower()}")
        ax.add_patch(band)
        ax.text(
            MARGIN + BAND_W / 2,
            (top + bottom) / 2,
            label,
            rotation=90,
            ha="center",
            va="center",
            fontsize=PHASE_SIZE,
            fontweight="bold",
            fontfamily=FONT_FAMILY,
        )
    for title in layout.titles:
        _draw_box(ax, title, None)
    for box in layout.boxes:
        _draw_box(ax, box, urls.get(box.key))
    for points in layout.arrows:
        for start, end in zip(points[:-2], points[1:-1], strict=True):
            ax.plot([start[0], end[0]], [start[1], end[1]], color=LINE_COLOUR, linewidth=0.8)
        ax.add_patch(
            FancyArrowPatch(
                points[-2],
                points[-1],
                arrowstyle="-|>",
                mutation_scale=9,
                shrinkA=0,
                shrinkB=0,
                color=LINE_COLOUR,
                linewidth=0.8,
            )
        )
    return fig


@dataclass(frozen=True)
class DiagramSection:
    """One phase of the diagram as text: its name and each box's words, numbers included."""

    phase: str
    boxes: tuple[str, ...]


def diagram_text(counts: PrismaCounts) -> list[DiagramSection]:
    """The diagram's boxes as text, phase by phase, row by row and left to right: the text
    alternative for readers who cannot see the drawing (the page lists it; the SVG carries it
    as its <desc>). Read from the same layout the drawing is made from, so the two cannot
    disagree."""
    check(counts)
    layout = _layout(counts)
    sections = []
    for phase, top, bottom in layout.bands:
        # Row by row, each row left to right: a box, then where its excluded records went.
        inside = sorted(
            (b for b in layout.boxes if top <= b.y + b.h / 2 <= bottom),
            key=lambda b: (round(b.y + b.h / 2), b.x),
        )
        sections.append(DiagramSection(phase, tuple(_box_text(box) for box in inside)))
    return sections


def _box_text(box: _Box) -> str:
    # "Reports excluded (n = 28): Wrong population (n = 9); Not an RCT (n = 12)"
    text = ""
    for line in box.lines:
        if text:
            text += " " if text.endswith(":") or line.text.startswith("(n =") else "; "
        text += line.text
    return text


def diagram_title(counts: PrismaCounts) -> str:
    """A one-line name for the diagram, with its first and last numbers."""
    return (
        "PRISMA 2020 flow diagram: "
        f"{counts.records_screened:,} records screened, "
        f"{counts.new_studies:,} new studies included"
    )


def _text_alternative(svg: bytes, counts: PrismaCounts) -> bytes:
    """``svg`` with a <title> and a <desc> (the boxes as text) as the root's first children."""
    desc = " ".join(
        f"{section.phase}: " + ". ".join(section.boxes) + "." for section in diagram_text(counts)
    )
    head, sep, rest = svg.partition(b"<svg ")
    end = rest.index(b">") + 1
    extra = (
        f"<title>{xml_escape(diagram_title(counts))}</title><desc>{xml_escape(desc)}</desc>"
    ).encode()
    return head + sep + rest[:end] + extra + rest[end:]


def render(
    counts: PrismaCounts,
    fmt: str = "svg",
    *,
    urls: Mapping[str, str] | None = None,
    dpi: int = PNG_DPI,
) -> bytes:
    """The flow diagram as SVG, PNG (``dpi``, 300 by default) or PDF bytes.

    Raises ``PrismaInconsistent`` before drawing if the counts do not add up. SVG keeps its text
    as text so the page can be searched and each box linked (``urls``, see ``diagram_figure``);
    PDF embeds TrueType fonts so its text can be selected.
    """
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"Unknown diagram format {fmt!r}; use one of {', '.join(FORMATS)}.")
    fig = diagram_figure(counts, urls)
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}, "png": {}}[fmt]
    buf = io.BytesIO()
    # rc_context restores the settings on exit; they are read only while saving.
    with matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": "prisma", "pdf.fonttype": 42}
    ):
        fig.savefig(buf, format=fmt, dpi=dpi if fmt == "png" else 72, metadata=metadata)
    if fmt == "svg":
        return _text_alternative(buf.getvalue(), counts)
    return buf.getvalue()


def render_svg(counts: PrismaCounts, urls: Mapping[str, str] | None = None) -> bytes:
    """The flow diagram as SVG bytes, boxes linked to ``urls``; see ``render``."""
    return render(counts, "svg", urls=urls)


def render_png(counts: PrismaCounts, dpi: int = PNG_DPI) -> bytes:
    """The flow diagram as PNG bytes at ``dpi`` (at least 200 for print); see ``render``."""
    return render(counts, "png", dpi=dpi)


def render_pdf(counts: PrismaCounts) -> bytes:
    """The flow diagram as a one-page PDF; see ``render``."""
    return render(counts, "pdf")
