"""The PRISMA diagram's text alternative: every box with its number, phase by phase, in the SVG's
<title>/<desc> and on the page."""

import xml.etree.ElementTree as ET

from reviewapp.core.svg import svg_for_inline
from reviewapp.reporting.diagram import diagram_text, diagram_title, render_svg
from tests.reporting import reference_counts

SVG = "{http://www.w3.org/2000/svg}"


def test_the_boxes_read_as_text_row_by_row_with_their_numbers():
    sections = diagram_text(reference_counts())
    assert [s.phase for s in sections] == ["Identification", "Screening", "Included"]
    identification, screening, included = (s.boxes for s in sections)
    assert identification[0] == (
        "Records identified from: Databases (n = 205): PubMed (n = 205); Registers (n = 0)"
    )
    assert screening[:4] == (
        "Records screened (n = 205)",
        "Records excluded (n = 140)",
        "Reports sought for retrieval (n = 65)",
        "Reports not retrieved (n = 2)",
    )
    assert screening[-1].startswith("Reports excluded (n = 28): Not a randomised controlled trial")
    assert included == (
        "Studies included in review (n = 35); Reports of included studies (n = 35)",
    )


def test_the_svg_carries_a_title_and_a_description_also_when_inlined():
    counts = reference_counts()
    for svg in (render_svg(counts).decode(), svg_for_inline(render_svg(counts))):
        root = ET.fromstring(svg.encode())
        first, second = list(root)[:2]
        assert first.tag == f"{SVG}title" and first.text == diagram_title(counts)
        assert (
            first.text == "PRISMA 2020 flow diagram: 205 records screened, 35 new studies included"
        )
        assert second.tag == f"{SVG}desc"
        assert "Screening: Records screened (n = 205). Records excluded (n = 140)." in second.text
