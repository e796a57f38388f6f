"""The summary-of-findings table as a Word document (python-docx), laid out as GRADEpro's and the
Cochrane Handbook's (chapter 14) tables: one row per outcome, footnotes with the reasons."""

from __future__ import annotations

import io

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.shared import Cm, Pt

from reviewapp.grade.selectors import SofRow
from reviewapp.reviews.models import Review

DOCX_HEADER = [
    "Outcome",
    "Assumed risk with comparator",
    "Corresponding risk with intervention (95% CI)",
    "Relative effect (95% CI)",
    "Absolute effect (95% CI)",
    "Participants (studies)",
    "Certainty of the evidence (GRADE)",
    "Comments",
]


def docx_cells(row: SofRow, footnote: int | None) -> list[str]:
    """The cells of one outcome, as the document shows them (the tests read them back)."""
    outcome = row.outcome + (f" ({row.time_point})" if row.time_point else "")
    certainty = row.certainty + (f" [{footnote}]" if footnote else "")
    studies = f"{row.participants} ({row.studies})" if row.participants else row.studies
    return [
        outcome,
        row.assumed or "—",
        row.corresponding or "—",
        row.relative,
        row.absolute,
        studies,
        certainty,
        row.comments,
    ]


def sof_docx(review: Review, rows: list[SofRow]) -> bytes:
    document = Document()
    section = document.sections[0]
    # Landscape: eight columns do not fit across a portrait page.
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(1.5))
    document.add_heading(f"Summary of findings: {review.title}", level=1)
    if review.is_demo:
        document.add_paragraph("Illustrative numbers of the demo review, not a published study's.")
    table = document.add_table(rows=1, cols=len(DOCX_HEADER))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, DOCX_HEADER, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    notes: list[str] = []
    for row in rows:
        footnote = None
        if row.reasons:
            notes.append(f"{row.outcome}: " + " ".join(row.reasons))
            footnote = len(notes)
        cells = table.add_row().cells
        for cell, text in zip(cells, docx_cells(row, footnote), strict=True):
            cell.text = text
    for table_row in table.rows:
        for cell in table_row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(9)
    document.add_paragraph(
        "Certainty: High, we are very confident that the true effect lies close to the estimate; "
        "Moderate, the true effect is likely close to it but may be substantially different; "
        "Low, it may be substantially different; Very low, it is likely to be substantially "
        "different (GRADE Working Group). The corresponding risk and its 95% CI follow from the "
        "assumed risk and the relative effect."
    )
    for number, note in enumerate(notes, start=1):
        document.add_paragraph(f"[{number}] {note}")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
