"""What we accept as an article's PDF, and the identifiers we can read from one. No Django import.

A file is a PDF if it starts with the PDF signature, is within the size limit, pypdf can open it,
it is not encrypted (nobody could read it in the app), and it has at least one page. For bulk
matching we read the document information, XMP metadata and the text of the first pages, where
journals print the DOI (and PubMed Central's copies the PMID).
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

PDF_MAGIC = b"%PDF-"
FIRST_PAGES = 2
# Text beyond this per page is not where a DOI or a title is printed.
PAGE_TEXT_LIMIT = 20_000

DOI_PATTERN = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>]+)", re.IGNORECASE)
PMID_PATTERN = re.compile(r"\bPMID\s*:?\s*(\d{1,9})\b", re.IGNORECASE)

# pypdf logs every oddity of a damaged file as a warning; the refusal message says what matters.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class PdfRefused(Exception):
    """The file is not an acceptable PDF; the message says why, for the person who gave it."""


@dataclass(frozen=True)
class PdfFacts:
    pages: int
    title: str
    text: str  # metadata and the first pages' text, for identifiers and title matching


def pdf_check(content: bytes, *, max_bytes: int, read_text: bool = False) -> PdfFacts:
    """Raise PdfRefused unless ``content`` is a readable, unencrypted PDF within ``max_bytes``."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if len(content) > max_bytes:
        raise PdfRefused(
            f"it is {len(content) / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.0f} MB"
        )
    if not content.startswith(PDF_MAGIC):
        raise PdfRefused("it is not a PDF (it does not start with %PDF-)")
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise PdfRefused("it is encrypted (password-protected); upload an unprotected copy")
        pages = len(reader.pages)
        if pages == 0:
            raise PdfRefused("it has no pages")
        title = ""
        parts: list[str] = []
        if read_text:
            info: dict = dict(reader.metadata or {})
            title = str(info.get("/Title") or "").strip()
            parts += [str(value) for value in info.values() if isinstance(value, str)]
            for page in reader.pages[:FIRST_PAGES]:
                parts.append((page.extract_text() or "")[:PAGE_TEXT_LIMIT])
    except PdfRefused:
        raise
    except (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OSError,
    ) as exc:
        raise PdfRefused(
            f"it is damaged and cannot be read as a PDF ({type(exc).__name__})"
        ) from exc
    except RecursionError:
        raise PdfRefused("it is damaged and cannot be read as a PDF (nested too deeply)") from None
    return PdfFacts(pages=pages, title=title, text="\n".join(parts))


def dois_in(text: str) -> list[str]:
    """DOIs in a text, in order, without trailing punctuation, lower-cased, once each."""
    seen: list[str] = []
    for match in DOI_PATTERN.finditer(text):
        doi = match.group(1).rstrip(".,;:)]}").lower()
        if doi not in seen:
            seen.append(doi)
    return seen


def pmids_in(text: str) -> list[str]:
    seen: list[str] = []
    for match in PMID_PATTERN.finditer(text):
        if match.group(1) not in seen:
            seen.append(match.group(1))
    return seen
