"""The PRISMA flow diagram: SVG, PNG and PDF from checked counts only, text inside its boxes."""

from __future__ import annotations

import dataclasses
import struct
import xml.etree.ElementTree as ET

import matplotlib
import pytest

from reviewapp.reporting import diagram
from reviewapp.reporting.diagram import diagram_figure, render, render_pdf, render_png, render_svg
from reviewapp.reporting.prisma import PrismaCounts, PrismaInconsistent
from tests.reporting import reference_counts

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def svg_texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


def with_other_methods(counts: PrismaCounts) -> PrismaCounts:
    """The reference case plus 4 citation-searched records giving 2 more included reports."""
    return dataclasses.replace(
        counts,
        citations_results=4,
        other_sought_reports=3,
        other_assessed=3,
        other_excluded=1,
        other_excluded_reasons={"Review article": 1},
        new_studies=37,
        new_reports=37,
        total_studies=37,
        total_reports=37,
        record_ids={},
    )


def test_svg_parses_and_shows_the_boxes():
    texts = svg_texts(render_svg(reference_counts()))
    assert "Records screened" in texts
    assert "(n = 205)" in texts
    assert any("n = 205" in t and "Databases" in t for t in texts)
    assert "PubMed (n = 205)" in texts
    assert "Wrong population (n = 9)" in texts
    assert {"Identification", "Screening", "Included"} <= set(texts)


def test_svg_links_boxes_to_urls():
    urls = {"records_screened": "/reviews/x/records/?box=records_screened"}
    root = ET.fromstring(render_svg(reference_counts(), urls=urls))
    links = [a for a in root.iter(f"{SVG}a") if a.get(XLINK_HREF) == urls["records_screened"]]
    assert links
    linked_text = {"".join(t.itertext()) for a in links for t in a.iter(f"{SVG}text")}
    assert "Records screened" in linked_text


def test_unknown_url_key_is_rejected():
    with pytest.raises(ValueError, match="not diagram boxes"):
        render_svg(reference_counts(), urls={"screened": "/x/"})


def test_png_is_a_png_at_print_resolution():
    counts = reference_counts()
    png = render_png(counts)
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])
    inches_w, inches_h = diagram_figure(counts).get_size_inches()
    # Agg truncates to whole pixels.
    assert abs(width - inches_w * 300) < 1 and abs(height - inches_h * 300) < 1
    assert min(width, height) > 1000


def test_pdf_is_a_pdf():
    assert render_pdf(reference_counts()).startswith(b"%PDF")


def test_inconsistent_counts_raise_before_drawing(monkeypatch):
    def must_not_draw(counts):
        raise AssertionError("layout reached with inconsistent counts")

    monkeypatch.setattr(diagram, "_layout", must_not_draw)
    bad = dataclasses.replace(reference_counts(), records_screened=204)
    for fmt in diagram.FORMATS:
        with pytest.raises(PrismaInconsistent):
            render(bad, fmt)


def test_other_methods_arm_drawn_only_when_used():
    title = "Identification of new studies via other methods"
    assert title not in svg_texts(render_svg(reference_counts()))

    texts = svg_texts(render_svg(with_other_methods(reference_counts())))
    assert title in texts
    assert "Citation searching (n = 4)" in texts


def test_previous_studies_column_drawn_only_for_an_update():
    assert "Previous studies" not in svg_texts(render_svg(reference_counts()))
    update = dataclasses.replace(
        reference_counts(),
        previous_studies=5,
        previous_reports=6,
        total_studies=40,
        total_reports=41,
        record_ids={},
    )
    texts = svg_texts(render_svg(update))
    assert "Previous studies" in texts
    assert any(t.startswith("Total studies included in review") for t in texts)


def test_text_stays_inside_its_box():
    reasons = {
        "Wrong population: children and adolescents under eighteen years of age": 10,
        "Supercalifragilisticexpialidociousinterventionthatnobodyhasheardof": 8,
        "No outcome of interest": 10,
    }
    counts = dataclasses.replace(
        with_other_methods(reference_counts()),
        databases={"Cochrane Central Register of Controlled Trials (CENTRAL)": 205},
        dbr_excluded_reasons=reasons,
        previous_studies=1,
        previous_reports=1,
        total_studies=38,
        total_reports=38,
        total_studies_ma=30,
        total_reports_ma=30,
    )
    fig = diagram_figure(counts)
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    boxes = {
        artist.get_gid().removeprefix("prisma-box-"): artist.get_window_extent(renderer)
        for artist in fig.findobj(lambda a: (a.get_gid() or "").startswith("prisma-box-"))
    }
    texts = fig.findobj(lambda a: (a.get_gid() or "").startswith("prisma-text-"))
    assert set(diagram.BOX_NAMES) <= set(boxes) and len(texts) > 40
    for text in texts:
        key = text.get_gid().removeprefix("prisma-text-").rsplit("-", 1)[0]
        inner = text.get_window_extent(renderer)
        outer = boxes[key]
        assert outer.x0 <= inner.x0 and inner.x1 <= outer.x1, text.get_text()
        assert outer.y0 <= inner.y0 and inner.y1 <= outer.y1, text.get_text()


def test_rendering_leaves_no_global_state():
    import matplotlib.pyplot as plt

    before = dict(matplotlib.rcParams)
    render_svg(reference_counts())
    render_pdf(reference_counts())
    assert plt.get_fignums() == []
    assert dict(matplotlib.rcParams) == before
