"""Which parser reads a file: decided from the first few kilobytes, the filename only as a hint.

| format        | recognised by |
|---------------|---------------|
| pubmed-xml    | XML whose root element is PubmedArticleSet (or PubmedBookArticleSet) |
| endnote-xml   | XML whose root is <xml> holding <records>/<record> |
| ris           | a "TY  - " line (numbered "1. TY  - " too) |
| medline       | a "PMID- " line |
| csv           | a first row that has a title column (see `csvfile.ALIASES`): Scopus, Embase, Web of Science tab-delimited, Zotero CSV |
| bibtex        | an "@article{" (any @type{ or @type( entry, not @string/@comment/@preamble) |
| wos           | a "PT J" line (Web of Science plain text: "FN Clarivate ... VR 1.0 / PT J ... ER / EF") |
| ovid          | a "<1. >" record number line followed by "TI  - " style tags (Ovid tagged) |
| cochrane      | a "Record #1 of 40" line followed by "ID: "/"TI: " lines (Cochrane Library plain text) |
| refworks      | an "RT Journal Article" line followed by "T1 "/"A1 " lines (RefWorks tagged) |
| idlist        | only PMIDs or DOIs, one a line (or separated by commas, spaces or semicolons) |

A Cochrane Library or EBSCOhost RIS export (a "Record #1 of 40" or "Provider:" banner before the
"TY  - " lines) is RIS.

The filename decides only between formats the content fits equally; it never overrides the
content (a ".ris" file holding PubMed XML is read as PubMed XML).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from .base import FileUnreadable, ParsedRecord, ParserFault, ParseWarning, Rejection
from .bibtex import looks_like_bibtex, parse_bibtex
from .csvfile import looks_like_csv, parse_csv
from .endnote_xml import parse_endnote_xml
from .idlist import looks_like_idlist, parse_idlist
from .medline import parse_medline
from .pubmed_xml import parse_pubmed_xml
from .ris import parse_ris
from .stream import HEAD_SIZE, as_seekable, check_head, decode_head, read_head
from .tagged import looks_like as tagged_dialect
from .tagged import parse_cochrane, parse_ovid, parse_refworks, parse_wos
from .xmltext import check_root, root_name

# Each parser takes the binary file and, for its error messages only, the file's name.
Parser = Callable[..., Iterator[ParsedRecord | Rejection | ParseWarning]]

PARSERS: dict[str, Parser] = {
    "pubmed-xml": parse_pubmed_xml,
    "medline": parse_medline,
    "ris": parse_ris,
    "endnote-xml": parse_endnote_xml,
    "csv": parse_csv,
    "bibtex": parse_bibtex,
    "wos": parse_wos,
    "ovid": parse_ovid,
    "cochrane": parse_cochrane,
    "refworks": parse_refworks,
    "idlist": parse_idlist,
}

_RIS_TY = re.compile(r"^\ufeff?(?:\d+\.\s*)?TY {1,2}-", re.MULTILINE)
_MEDLINE_PMID = re.compile(r"^\ufeff?PMID- ?\d", re.MULTILINE)
_TAGGED = re.compile(r"^[A-Z][A-Z0-9]{1,3} {0,3}- ", re.MULTILINE)
_EXTENSION_HINTS = {
    ".ris": "ris",
    ".nbib": "medline",
    ".medline": "medline",
    ".csv": "csv",
    ".tsv": "csv",
    ".bib": "bibtex",
    ".ciw": "wos",
}


def detect_format(head: bytes, filename: str = "") -> str:
    """Return the format name of a file from its first bytes (use at least a few KB).

    Raises FileUnreadable with a message a user can act on when the file is empty, binary, an
    HTML page, an NCBI error reply, or no known format; never another exception.
    """
    try:
        return _detect_format(head, filename)
    except FileUnreadable:
        raise
    except Exception as error:
        raise ParserFault(
            f"the format of {filename or 'the file'} could not be recognised: the format check "
            f"stopped on an unexpected error ({error.__class__.__name__}: {str(error)[:200]}). "
            "Choose the format by hand, and please report this with the file."
        ) from error


def _detect_format(head: bytes, filename: str) -> str:
    check_head(head)
    text = decode_head(head).lstrip("\ufeff")
    if "\r" in text and "\n" not in text:
        # Lines ended by CR alone (as in a saved Cochrane Library plain-text export): the
        # parsers read them as lines, so detection must too, or no "^" pattern matches past
        # the first line. A lone CR in a file that also has LF ends stays as it is.
        text = text.replace("\r", "\n")
    stripped = text.lstrip()
    lower_name = filename.lower()
    if stripped.startswith("<") and not tagged_dialect(text):
        root = root_name(head)
        if root in {
            "PubmedArticleSet",
            "PubmedBookArticleSet",
            "PubmedArticle",
            "PubmedBookArticle",
        }:
            return "pubmed-xml"
        if root in {"xml", "records"} and "<record" in text:
            return "endnote-xml"
        # Raises with the specific reason (HTML page, NCBI ERROR, another XML root).
        check_root(head, set(), "PubMed XML or EndNote XML")
    has_ris = bool(_RIS_TY.search(text))
    has_medline = bool(_MEDLINE_PMID.search(text))
    if has_ris and has_medline:
        return "medline" if lower_name.endswith((".nbib", ".medline", ".txt")) else "ris"
    if has_ris:
        return "ris"
    if has_medline:
        return "medline"
    dialect = tagged_dialect(text)
    if dialect:
        return dialect
    if looks_like_bibtex(text):
        return "bibtex"
    if looks_like_csv(text):
        return "csv"
    if looks_like_idlist(text):
        return "idlist"
    hint = next((fmt for ext, fmt in _EXTENSION_HINTS.items() if lower_name.endswith(ext)), "")
    first = stripped.splitlines()[0][:60] if stripped else ""
    if _TAGGED.search(text):
        raise FileUnreadable(
            "the file has tagged lines but neither a 'TY  - ' line (RIS) nor a 'PMID- ' line "
            f"(MEDLINE) in its first {len(head)} bytes; it may be cut or edited"
        )
    named = f" although its name ends in {lower_name[lower_name.rfind('.') :]!s}" if hint else ""
    raise FileUnreadable(
        f"the format of this file could not be recognised{named} (it starts with {first!r}); "
        "upload RIS, PubMed XML, MEDLINE (.nbib), EndNote XML, BibTeX, a Web of Science, Ovid, "
        "Cochrane or RefWorks plain-text export, a CSV with a title column, or a list of PMIDs "
        "or DOIs"
    )


def parse(
    fileobj: BinaryIO | bytes,
    format: str = "auto",
    filename: str = "",
    fetch: Callable[[list[str]], Iterable[bytes]] | None = None,
) -> Iterator[ParsedRecord | Rejection | ParseWarning]:
    """Yield ParsedRecord and Rejection items from a binary file object in file order.

    With format="auto" the format is detected from the first bytes (and `filename` as a hint),
    and a file of no known format raises FileUnreadable at once. Otherwise FileUnreadable is
    raised while iterating: at the first step when the file is not of the format, or, for XML
    that breaks off, after yielding what came before the break; never another exception while
    iterating (see `records.guarded`). ParseWarning items say what is wrong with the file's
    structure without costing a record. Raises ValueError for an unknown format name. A
    non-seekable stream is spooled to a temporary file first. `fetch` (PubMed query terms ->
    PubMed XML replies) is used only by a list of PMIDs or DOIs (see `idlist`).
    """
    if format != "auto" and format not in PARSERS:
        raise ValueError(f"unknown format {format!r}; known: {', '.join(PARSERS)}")
    stream = as_seekable(fileobj)
    if format == "auto":
        format = detect_format(read_head(stream, HEAD_SIZE), filename)
    if format == "idlist":
        return PARSERS[format](stream, filename=filename, fetch=fetch)
    return PARSERS[format](stream, filename=filename)
