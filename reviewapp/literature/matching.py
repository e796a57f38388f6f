"""Duplicate matching: pure, streaming, never quadratic.

Records are compared as light tuples `MatchRecord(id, pmid, doi, title, year,
first_author_surname)`. A `DuplicateIndex` holds what it has seen (existing records of a review,
then each new batch) and, for every new record, returns at most one `DuplicateLink(duplicate_id,
primary_id, rule, score)`. The primary is the earliest record (lowest id) of the group: when a
record matches a duplicate, the link points at that duplicate's primary.

Tiers, tried in order; the first tier with a candidate decides:

| rule              | when |
|-------------------|------|
| pmid              | same PMID (digits only) |
| doi               | same DOI (normalised), PMIDs not different, and titles not clearly different (token set ratio >= 50 when both are known: supplement DOIs are shared by many abstracts) |
| title_year_author | same `title_key`, same year, same first-author surname key |
| fuzzy_title       | `fuzz.ratio` of the title keys >= FUZZY_THRESHOLD (92), years within 1 (or both unknown), first authors compatible (equal, one contains the other, or ratio >= 80; unknown is compatible) |
| doi_other_pmid    | same DOI but different PMIDs, titles alike (token set ratio >= 90): a candidate for a reviewer to confirm, never linked automatically (PubMed does hold some articles twice) |

Score is 100 for the exact tiers and the fuzzy ratio (0..100) for fuzzy_title.

Guards against false matches in the title tiers: different PMIDs or different DOIs mean different
records; titles shorter than 3 words / 15 characters are never matched on title ("Editorial");
fuzzy matches need the same numbers in both titles ("Part 1"/"Part 2", "Phase II"/"Phase III":
digits and Roman numerals are compared) and the same erratum/correction/retraction/comment words
(an erratum is not a duplicate of the article it corrects).

Blocking (fuzzy tier only): each record is filed under three keys, each combined with its
publication year: the first four significant words of the title key, the last four, and the three
longest words sorted alphabetically. A record is compared only with records sharing a key in its
year or the years either side. A key that collects more than MAX_BLOCK records stops being used
(it no longer separates anything), which bounds the work per record whatever the review size.
Records without a year are blocked among themselves.

Memory: per record the index keeps the id, the PMID as an integer, the DOI's hash, the title key,
the year and author key (shared between records) and four 30-bit lookup keys: about 770 bytes in
CPython, so 100,000 records take about 77 MB and 1,000,000 about 770 MB (issue 13 asks that a
1,000,000-record import fit in 1 GB). 100,000 records are checked in about 10 seconds (bench:
random 6-16 word titles, one core).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from rapidfuzz import fuzz, process

from reviewapp.literature.parsers.normalise import (
    normalise_doi,
    normalise_pmcid,
    normalise_pmid,
    plain_text,
    strip_accents,
    surname_of,
)

__all__ = [
    "FUZZY_THRESHOLD",
    "MAX_BLOCK",
    "DuplicateIndex",
    "DuplicateLink",
    "MatchKeys",
    "MatchRecord",
    "author_key",
    "find_duplicates",
    "match_keys",
    "normalise_doi",
    "normalise_pmcid",
    "normalise_pmid",
    "title_key",
]

FUZZY_THRESHOLD = 92.0
AUTHOR_THRESHOLD = 80.0
DOI_TITLE_FLOOR = 50.0
DOI_OTHER_PMID_TITLE_FLOOR = 90.0
MAX_BLOCK = 500
# From this many records on, a block's titles are scored in one call into rapidfuzz rather than
# one call per title (3-4x faster on a full block). A big import fills common phrases' blocks up
# to MAX_BLOCK, and scoring them was what grew the work per record with the import's size.
SCORE_IN_ONE_CALL = 16
MIN_TITLE_WORDS = 3
MIN_TITLE_CHARS = 15

_NON_WORD = re.compile(r"[^0-9a-z]+")
# Bytes 0-9 and a-z to themselves, A-Z to a-z, any other byte to a space: `title_key` of an ASCII
# title (nearly all) in one C loop. The regular expression's replacement at every space and
# punctuation mark took 4-5 microseconds a title, some 3% of a PubMed XML record's parse.
_KEY_BYTES = bytes(
    c + 32 if 0x41 <= c <= 0x5A else c if 0x30 <= c <= 0x39 or 0x61 <= c <= 0x7A else 0x20
    for c in range(256)
)
_DIGITS = re.compile(r"\d+")
_ROMAN = {"i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii"}
_NOTICE_WORDS = {
    "erratum",
    "errata",
    "corrigendum",
    "correction",
    "retraction",
    "retracted",
    "reply",
    "response",
    "comment",
    "commentary",
    "withdrawn",
}
_STOPWORDS = {
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "and",
    "or",
    "for",
    "to",
    "with",
    "by",
    "at",
    "from",
    "is",
    "are",
    "as",
    "its",
    "their",
    "vs",
    "versus",
}


class MatchRecord(NamedTuple):
    """The fields matching needs; plain tuples in this order are accepted too.

    `title_key` may carry `title_key(title)` when the caller has it already (an importer stores
    it anyway); it is computed from `title` when empty.
    """

    id: int
    pmid: str = ""
    doi: str = ""
    title: str = ""
    year: int | None = None
    first_author_surname: str = ""
    title_key: str = ""


class DuplicateLink(NamedTuple):
    """`duplicate_id` is a duplicate of `primary_id`, found by `rule` with `score` (0..100)."""

    duplicate_id: int
    primary_id: int
    rule: str
    score: float


def title_key(title: str) -> str:
    """Casefolded title without markup, diacritics or punctuation, spaces collapsed."""
    text = plain_text(title)
    if text.isascii():
        # What the lines below make of ASCII text (casefold is lower there, nothing to strip).
        return b" ".join(text.encode("ascii").translate(_KEY_BYTES).split()).decode("ascii")
    text = strip_accents(text).casefold()
    return _NON_WORD.sub(" ", text).strip()


def author_key(surname: str) -> str:
    """A surname as letters only ("Beane Freeman" -> "beanefreeman", "Grošelj" -> "groselj").

    Accepts a full "Surname, Initials" author too; only the part before the comma is used.
    """
    return _NON_WORD.sub("", strip_accents(surname_of(plain_text(surname or ""))).casefold())


class _Entry(NamedTuple):
    # Identifiers are kept as numbers, not strings: at 1,000,000 records the index must fit in
    # well under 1 GB (issue 13). The PMID as its integer, the normalised DOI as its hash (0
    # when missing): two different DOIs with one 64-bit hash among a million are not expected.
    id: int
    pmid: int
    doi: int
    title: str
    year: int | None
    author: str


# One object per distinct year and author key, shared by every entry that has it.
_shared: dict = {}


def _share(value):
    return _shared.setdefault(value, value)


def _key(*parts) -> int:
    """A lookup key for the title tiers: 30 bits of the parts' hash, a smaller int than the full
    hash (28 bytes against 36, four per record). A collision only adds a candidate, which is
    then checked on its real fields."""
    return hash(parts) & 0x3FFFFFFF


def _significant(words: list[str]) -> list[str]:
    return [w for w in words if w not in _STOPWORDS]


def _block_keys(title: str) -> tuple[str, ...]:
    words = _significant(title.split())
    if not words:
        return ()
    # Longest first, alphabetical among equals: the sort is stable, reversed or not.
    by_length = sorted(set(words))
    by_length.sort(key=len, reverse=True)
    longest = sorted(by_length[:3])
    return (
        "p:" + " ".join(words[:4]),
        "s:" + " ".join(words[-4:]),
        "l:" + " ".join(longest),
    )


class MatchKeys(NamedTuple):
    """A record as the index compares it: identifiers normalised, the title key, the author key
    and the blocking keys."""

    pmid: int
    doi: str
    title: str
    year: int | None
    author: str
    blocks: tuple[str, ...]


def match_keys(record: MatchRecord) -> MatchKeys:
    """The keys `DuplicateIndex` files and matches `record` under (the per-record text work)."""
    pmid = normalise_pmid(record.pmid)
    title = record.title_key or title_key(record.title or "")
    return MatchKeys(
        pmid=int(pmid) if pmid else 0,
        doi=normalise_doi(record.doi),
        title=title,
        year=record.year,
        author=author_key(record.first_author_surname or ""),
        blocks=_block_keys(title),
    )


def _long_enough(title: str) -> bool:
    return len(title) >= MIN_TITLE_CHARS and len(title.split()) >= MIN_TITLE_WORDS


def _numbers(title: str) -> tuple[frozenset[str], frozenset[str]]:
    words = title.split()
    return frozenset(_DIGITS.findall(title)), frozenset(w for w in words if w in _ROMAN)


def _notices(title: str) -> frozenset[str]:
    return frozenset(w for w in title.split() if w in _NOTICE_WORDS)


def _authors_compatible(a: str, b: str) -> bool:
    if not a or not b or a == b or a in b or b in a:
        return True
    return fuzz.ratio(a, b) >= AUTHOR_THRESHOLD


def _conflict(a: _Entry, b: _Entry) -> bool:
    """Different PMIDs or different DOIs: two distinct publications whatever their titles say."""
    return bool((a.pmid and b.pmid and a.pmid != b.pmid) or (a.doi and b.doi and a.doi != b.doi))


class DuplicateIndex:
    """An index of records seen so far; feed existing records with `add`, new ones with `check`.

    `match` only looks; `add` only files; `check` does both (match, then file the record so
    later records of the same batch can match it).
    """

    def __init__(self, *, fuzzy_threshold: float = FUZZY_THRESHOLD, max_block: int = MAX_BLOCK):
        self.fuzzy_threshold = fuzzy_threshold
        self.max_block = max_block
        self._entries: dict[int, _Entry] = {}
        self._primary: dict[int, int] = {}
        self._by_pmid: dict[int, int] = {}
        # Most DOIs belong to one record: a bare id saves a list per DOI.
        self._by_doi: dict[int, int | list[int]] = {}
        # Keys are hashes, not the strings they hash: it halves the index's memory. A collision
        # only adds a candidate, which is then checked on its real fields.
        self._by_exact: dict[int, int] = {}
        self._blocks: dict[int, int | list[int]] = {}
        self._saturated: set[int] = set()
        # The highest per-review record number among the records fed in (None: not known). An
        # import numbers its new records after it, batch after batch, without asking the
        # database again (its rows may still be on their way there).
        self.last_number: int | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._entries

    @staticmethod
    def _entry(record_id: int, keys: MatchKeys) -> _Entry:
        return _Entry(
            id=record_id,
            pmid=keys.pmid,
            doi=(hash(keys.doi) or 1) if keys.doi else 0,
            title=keys.title,
            year=_share(keys.year),
            author=_share(keys.author),
        )

    def primary_of(self, record_id: int) -> int:
        """The primary a record belongs to (itself when it is not a known duplicate)."""
        seen = set()
        while record_id in self._primary and record_id not in seen:
            seen.add(record_id)
            record_id = self._primary[record_id]
        return record_id

    def add(self, record: MatchRecord | tuple, *, primary_id: int | None = None) -> None:
        """File a record without matching it; pass `primary_id` if it is a known duplicate."""
        record = record if isinstance(record, MatchRecord) else MatchRecord(*record)
        keys = match_keys(record)
        entry = self._entry(record.id, keys)
        self._file(entry, keys.blocks)
        if primary_id is not None and primary_id != entry.id:
            self._primary[entry.id] = primary_id

    def _file(self, entry: _Entry, block_keys: tuple[str, ...]) -> None:
        self._entries[entry.id] = entry
        if entry.pmid:
            self._by_pmid.setdefault(entry.pmid, entry.id)
        if entry.doi:
            same = self._by_doi.get(entry.doi)
            if same is None:
                self._by_doi[entry.doi] = entry.id
            elif isinstance(same, int):
                self._by_doi[entry.doi] = [same, entry.id]
            else:
                same.append(entry.id)
        if not _long_enough(entry.title):
            return
        if entry.year is not None and entry.author:
            self._by_exact.setdefault(_key(entry.title, entry.year, entry.author), entry.id)
        for key in block_keys:
            block_key = _key(key, entry.year)
            if block_key in self._saturated:
                continue
            block = self._blocks.get(block_key)
            if block is None:
                # Most blocks hold one record; a bare id saves a list per key.
                self._blocks[block_key] = entry.id
            elif isinstance(block, int):
                self._blocks[block_key] = [block, entry.id]
            else:
                block.append(entry.id)
                if len(block) > self.max_block:
                    # An over-full block is a common phrase, not a signal; drop it to stay linear.
                    self._saturated.add(block_key)
                    del self._blocks[block_key]

    def _candidates(
        self, entry: _Entry, block_keys: tuple[str, ...]
    ) -> Iterator[tuple[str, float, int]]:
        """(rule, score, matched id) in tier order; the caller takes the first."""
        if entry.pmid and entry.pmid in self._by_pmid:
            yield "pmid", 100.0, self._by_pmid[entry.pmid]
        other_pmid: list[int] = []
        if entry.doi:
            same = self._by_doi.get(entry.doi, ())
            for other_id in (same,) if isinstance(same, int) else same:
                other = self._entries[other_id]
                similar = (
                    fuzz.token_set_ratio(entry.title, other.title)
                    if entry.title and other.title
                    else 100.0
                )
                if similar < DOI_TITLE_FLOOR:
                    continue
                if entry.pmid and other.pmid and entry.pmid != other.pmid:
                    # PubMed indexes some articles twice (an ahead-of-print and a print record,
                    # a record per database it was loaded from); the DOI says so, the PMIDs say
                    # otherwise: a person decides, after every surer tier had its chance, and
                    # only on titles that agree (two PMIDs under one DOI are more often a
                    # supplement's abstracts than one article).
                    if similar >= DOI_OTHER_PMID_TITLE_FLOOR:
                        other_pmid.append(other_id)
                    continue
                yield "doi", 100.0, other_id
        if _long_enough(entry.title):
            yield from self._title_tiers(entry, block_keys)
        for other_id in other_pmid:
            yield "doi_other_pmid", 100.0, other_id

    def _title_tiers(
        self, entry: _Entry, block_keys: tuple[str, ...]
    ) -> Iterator[tuple[str, float, int]]:
        if entry.year is not None and entry.author:
            exact_id = self._by_exact.get(_key(entry.title, entry.year, entry.author))
            exact = self._entries.get(exact_id) if exact_id is not None else None
            if (
                exact is not None
                and (exact.title, exact.year, exact.author)
                == (entry.title, entry.year, entry.author)
                and not _conflict(entry, exact)
            ):
                yield "title_year_author", 100.0, exact.id
        yield from self._fuzzy(entry, block_keys)

    def _fuzzy(
        self, entry: _Entry, block_keys: tuple[str, ...]
    ) -> Iterator[tuple[str, float, int]]:
        years: list[int | None] = (
            [None] if entry.year is None else [entry.year - 1, entry.year, entry.year + 1]
        )
        seen: set[int] = set()
        guards: tuple | None = None  # numbers and notice words, worked out for the first candidate
        best: tuple[float, int] | None = None
        for key in block_keys:
            for year in years:
                block = self._blocks.get(_key(key, year))
                if block is None:
                    continue
                for other_id, score in self._similar(entry.title, block):
                    if other_id in seen or other_id == entry.id:
                        continue
                    seen.add(other_id)
                    other = self._entries[other_id]
                    if _conflict(entry, other) or not _authors_compatible(
                        entry.author, other.author
                    ):
                        continue
                    if guards is None:
                        guards = (_numbers(entry.title), _notices(entry.title))
                    if (_numbers(other.title), _notices(other.title)) != guards:
                        continue
                    primary = self.primary_of(other_id)
                    if best is None or (score, -primary) > (best[0], -best[1]):
                        best = (score, primary)
        if best is not None:
            yield "fuzzy_title", round(best[0], 1), best[1]

    def _similar(self, title: str, block: int | list[int]) -> list[tuple[int, float]]:
        """(id, score) of the block's records whose title scores at least the fuzzy threshold
        against `title`."""
        threshold, entries = self.fuzzy_threshold, self._entries
        if isinstance(block, int):
            score = fuzz.ratio(title, entries[block].title, score_cutoff=threshold)
            return [(block, score)] if score else []
        if len(block) < SCORE_IN_ONE_CALL:
            found = []
            for other_id in block:
                score = fuzz.ratio(title, entries[other_id].title, score_cutoff=threshold)
                if score:
                    found.append((other_id, score))
            return found
        titles = [entries[other_id].title for other_id in block]
        return [
            (block[position], score)
            for _, score, position in process.extract(
                title, titles, scorer=fuzz.ratio, score_cutoff=threshold, limit=None
            )
        ]

    def match(self, record: MatchRecord | tuple) -> DuplicateLink | None:
        """The link for `record` against the records filed so far, or None; files nothing."""
        record = record if isinstance(record, MatchRecord) else MatchRecord(*record)
        keys = match_keys(record)
        return self._match(self._entry(record.id, keys), keys.blocks)

    def _match(self, entry: _Entry, block_keys: tuple[str, ...]) -> DuplicateLink | None:
        for rule, score, other_id in self._candidates(entry, block_keys):
            primary = self.primary_of(other_id)
            if primary == entry.id:
                continue
            if primary < entry.id:
                return DuplicateLink(entry.id, primary, rule, score)
            # The new record is older than the group it matched: it becomes the primary.
            return DuplicateLink(primary, entry.id, rule, score)
        return None

    def check(self, record: MatchRecord | tuple) -> DuplicateLink | None:
        """Match `record`, then file it (as a duplicate if it matched) and return the link."""
        record = record if isinstance(record, MatchRecord) else MatchRecord(*record)
        keys = match_keys(record)
        entry = self._entry(record.id, keys)
        link = self._match(entry, keys.blocks)
        self._file(entry, keys.blocks)
        if link is not None:
            self._primary[link.duplicate_id] = link.primary_id
        return link

    def check_all(self, records: Iterable[MatchRecord | tuple]) -> Iterator[DuplicateLink]:
        """`check` every record of a stream, yielding the links found."""
        for record in records:
            link = self.check(record)
            if link is not None:
                yield link


def find_duplicates(
    existing: Iterable[MatchRecord | tuple], new: Iterable[MatchRecord | tuple]
) -> list[DuplicateLink]:
    """Links for the `new` records against `existing` ones and each other (existing are trusted)."""
    index = DuplicateIndex()
    for record in existing:
        index.add(record)
    return list(index.check_all(new))
