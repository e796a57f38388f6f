"""A plain list of PMIDs or DOIs (PubMed's "PMID" export, a reference list pasted into a file).

The list itself holds no titles, so its records are fetched from PubMed: the caller passes
`fetch`, a function that takes PubMed query terms (`query_terms`) and yields PubMed XML replies
(the import service gives one backed by `reviewapp.integrations.entrez`). This module stays pure:
it reads the list, builds the queries and matches what PubMed returns to the lines of the list.

Accepted: one identifier a line, or several separated by commas, semicolons, tabs or spaces;
"PMID: 123", "pmid 123", "doi:10.1/x" and DOI URLs; blank lines and "#" comment lines are
ignored. A word that is neither a PMID nor a DOI is rejected naming its line; an identifier
PubMed does not know is rejected naming its line too. A DOI is looked up in PubMed's [doi] field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from typing import BinaryIO

from .base import FileUnreadable, ParsedRecord, ParseWarning, Rejection
from .normalise import normalise_doi
from .pubmed_xml import parse_pubmed_xml
from .records import guarded, reject
from .stream import text_stream

# PubMed answers an esearch term of a few hundred identifiers; longer terms are split.
TERMS_PER_QUERY = 200
MAX_IDENTIFIERS = 100_000
_PMID = re.compile(r"^(?:pmid\s*:?\s*)?(\d{1,9})$", re.IGNORECASE)
_DOI = re.compile(r"^(?:doi\s*:?\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[,;\t ]+")
_HEAD_WORD = re.compile(
    r"^(?:pmid\s*:?\s*)?\d{1,9}$|^(?:doi\s*:?\s*|https?://(?:dx\.)?doi\.org/)?10\.\d{4,9}/\S+$",
    re.I,
)

Fetch = Callable[[list[str]], Iterable[bytes]]


@dataclass
class IdList:
    """The identifiers of a list in file order, each with its line, and the words that were not."""

    pmids: dict[str, int] = field(default_factory=dict)  # PMID -> line
    dois: dict[str, int] = field(default_factory=dict)  # normalised DOI -> line
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, word)


def _words(line: str) -> list[str]:
    line = line.strip()
    if not line or line.startswith("#"):
        return []
    # "PMID: 123" and "doi: 10.1/x" keep their label with the value.
    line = re.sub(r"(?i)\b(pmid|doi)\s*:\s*", r"\1:", line)
    return [word for word in _SEPARATORS.split(line) if word]


def looks_like_idlist(head: str) -> bool:
    """True when the first non-blank lines of `head` hold only PMIDs or DOIs."""
    lines = [line for line in head.splitlines()[:-1] or head.splitlines() if line.strip()][:20]
    words = [word for line in lines for word in _words(line)]
    return bool(words) and all(_HEAD_WORD.match(word) for word in words)


def read_idlist(text: Iterable[str]) -> IdList:
    """Read the identifiers of a list (lines of text), keeping the first line of each."""
    found = IdList()
    for number, line in enumerate(text, start=1):
        for word in _words(line.lstrip("\ufeff")):
            pmid = _PMID.match(word)
            doi = _DOI.match(word)
            if pmid:
                found.pmids.setdefault(pmid.group(1).lstrip("0") or "0", number)
            elif doi and normalise_doi(doi.group(1)):
                found.dois.setdefault(normalise_doi(doi.group(1)), number)
            else:
                found.bad.append((number, word))
    return found


def query_terms(ids: IdList) -> list[str]:
    """The PubMed esearch terms that find every identifier of the list, a few hundred per term."""
    terms = [f"{pmid}[uid]" for pmid in ids.pmids] + [f'"{doi}"[doi]' for doi in ids.dois]
    return [
        " OR ".join(terms[start : start + TERMS_PER_QUERY])
        for start in range(0, len(terms), TERMS_PER_QUERY)
    ]


@guarded("PMID/DOI list")
def parse_idlist(
    fileobj: BinaryIO, fetch: Fetch | None = None
) -> Iterator[ParsedRecord | Rejection | ParseWarning]:
    """Yield the records PubMed holds for a list of PMIDs or DOIs, then the ones it does not.

    Records come in the order PubMed returns them, numbered from 1; each names the line of the
    list it was asked for by. Raises FileUnreadable when the file is not such a list, or when no
    `fetch` is given (the list alone has no titles).
    """
    with text_stream(fileobj, newline=None) as (text, warnings):
        ids = read_idlist(text)
    if not ids.pmids and not ids.dois:
        raise FileUnreadable("the file holds no PMID or DOI (one a line)")
    if len(ids.pmids) + len(ids.dois) > MAX_IDENTIFIERS:
        raise FileUnreadable(
            f"the list holds {len(ids.pmids) + len(ids.dois):,} identifiers; the most accepted "
            f"in one file is {MAX_IDENTIFIERS:,}"
        )
    if fetch is None:
        raise FileUnreadable(
            "a list of PMIDs or DOIs has no titles: its records are fetched from PubMed, which "
            "only an import through the app does"
        )
    yield from warnings
    position = 0
    seen_pmids: set[str] = set()
    seen_dois: set[str] = set()
    for reply in fetch(query_terms(ids)):
        for item in parse_pubmed_xml(BytesIO(reply)):
            if not isinstance(item, ParsedRecord):
                continue
            if item.pmid in seen_pmids:
                continue
            line = ids.pmids.get(item.pmid) or ids.dois.get(item.doi)
            if line is None:
                continue  # PubMed matched the term loosely; not a record the list asked for
            seen_pmids.add(item.pmid)
            seen_dois.add(item.doi)
            position += 1
            item.position, item.line = position, line
            yield item
    missing = [(line, "PMID", pmid) for pmid, line in ids.pmids.items() if pmid not in seen_pmids]
    missing += [(line, "DOI", doi) for doi, line in ids.dois.items() if doi not in seen_dois]
    missing += [(line, "", word) for line, word in ids.bad]
    for line, kind, value in sorted(missing):
        position += 1
        if kind:
            yield reject(position, line, f"{kind} {value} was not found in PubMed", field=kind)
        else:
            yield reject(
                position,
                line,
                f"{value[:80]!r} is neither a PMID (digits) nor a DOI (10.xxxx/...)",
            )
