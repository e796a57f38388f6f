"""Which fields of two citations differ: what the duplicates page marks on each candidate pair.
Pure: no Django here.

Fields are compared as a reviewer reads them, not character by character: case, accents,
punctuation and markup do not count in titles and journals; DOIs and PMIDs are compared in their
normal form (reviewapp.literature.parsers.normalise); authors by surname, in order; page ranges
with their end page written out ("123-9" is "123-129"). A field empty on one side only is
``ONE_MISSING`` (a gap, not a contradiction), empty on both ``BOTH_MISSING``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reviewapp.literature.parsers.normalise import (
    normalise_doi,
    normalise_pmid,
    plain_text,
    strip_accents,
    surname_of,
)

SAME, DIFFERENT, ONE_MISSING, BOTH_MISSING = "same", "different", "one_missing", "both_missing"
# In the order the pair view shows them.
FIELDS = (
    "title",
    "authors",
    "journal",
    "year",
    "volume",
    "issue",
    "pages",
    "doi",
    "pmid",
    "source",
)

_NON_WORD = re.compile(r"[^0-9a-z]+")
_RANGE = re.compile(r"^([a-z]*)(\d+)\s*[-\u2010-\u2015]+\s*([a-z]*)(\d+)$")


@dataclass(frozen=True)
class Citation:
    """The fields of a record the pair view compares, as plain values."""

    title: str = ""
    authors: tuple[str, ...] = ()
    journal: str = ""
    year: int | None = None
    volume: str = ""
    issue: str = ""
    pages: str = ""
    doi: str = ""
    pmid: str = ""
    source: str = ""


def text_key(text: str | None) -> str:
    """Casefolded words without markup, accents or punctuation ("The <i>BMJ</i>." -> "the bmj")."""
    return _NON_WORD.sub(" ", strip_accents(plain_text(text or "")).casefold()).strip()


def authors_key(authors: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The surnames in order, as letters only: initials and their punctuation vary by source."""
    keys = (_NON_WORD.sub("", text_key(surname_of(plain_text(a or "")))) for a in authors)
    return tuple(k for k in keys if k)


def pages_key(pages: str | None) -> str:
    """A page range with its end page in full ("123-9" -> "123-129", "e12-e15" -> "e12-e15");
    a single page or an article number as it is, without a "pp." prefix."""
    text = (pages or "").strip().casefold()
    text = re.sub(r"^pp?\.?\s*", "", text).replace(" ", "")
    match = _RANGE.match(text)
    if not match:
        return text
    start_prefix, start, end_prefix, end = match.groups()
    if len(end) < len(start):
        end = start[: len(start) - len(end)] + end
    if start == end and start_prefix == end_prefix:
        return f"{start_prefix}{start}"
    return f"{start_prefix}{start}-{end_prefix or start_prefix}{end}"


def _keys(citation: Citation) -> dict[str, object]:
    return {
        "title": text_key(citation.title),
        "authors": authors_key(citation.authors),
        "journal": text_key(citation.journal),
        "year": citation.year or "",
        "volume": text_key(citation.volume),
        "issue": text_key(citation.issue),
        "pages": pages_key(citation.pages),
        "doi": normalise_doi(citation.doi),
        "pmid": normalise_pmid(citation.pmid),
        "source": text_key(citation.source),
    }


def differences(a: Citation, b: Citation) -> dict[str, str]:
    """Each field of FIELDS: SAME, DIFFERENT, ONE_MISSING or BOTH_MISSING."""
    ka, kb = _keys(a), _keys(b)
    result = {}
    for name in FIELDS:
        x, y = ka[name], kb[name]
        if not x and not y:
            result[name] = BOTH_MISSING
        elif not x or not y:
            result[name] = ONE_MISSING
        else:
            result[name] = SAME if x == y else DIFFERENT
    return result
