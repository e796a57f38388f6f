"""Which value of each field a merged duplicate cluster keeps, and from which record.
Pure: no Django here.

A cluster is one kept (primary) record and its duplicates. Merging never changes a record: it
computes the values the primary shows (stored with the merge, so undoing it restores exactly what
was shown before). The rule is deterministic, so two people merging the same cluster get the same
result:

- citation fields (title, journal, year, volume, issue, pages, language) and identifiers (DOI,
  PMID, PMCID): the primary's value; where the primary lacks one, the first record that has it,
  in record-number order;
- the abstract: the longest (as plain text); its structured sections come with it;
- authors: the longest list (a source that truncates to "et al." loses to one that does not);
- keywords, MeSH terms, publication types and source databases: the union, the primary's first,
  then each record's in record-number order, each term once (case and spacing aside).

Ties go to the primary, then to the lower record number. A reviewer can choose, for any field,
the record whose value is kept instead (`choices`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

FIRST, LONGEST, UNION, CHOSEN = "first", "longest", "union", "chosen"

# In the order the merge view shows them, with the rule each follows.
FIELDS: tuple[tuple[str, str], ...] = (
    ("title", FIRST),
    ("authors", LONGEST),
    ("journal", FIRST),
    ("year", FIRST),
    ("volume", FIRST),
    ("issue", FIRST),
    ("pages", FIRST),
    ("doi", FIRST),
    ("pmid", FIRST),
    ("pmcid", FIRST),
    ("abstract", LONGEST),
    ("keywords", UNION),
    ("mesh_terms", UNION),
    ("publication_types", UNION),
    ("language", FIRST),
    ("sources", UNION),
)
FIELD_NAMES = tuple(name for name, _rule in FIELDS)
RULES = dict(FIELDS)
# Kept with the field named: the abstract's sections belong to the abstract they came with.
COMPANIONS = {"abstract": ("abstract_sections",)}

_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Source:
    """One record of a cluster, as the merge reads it: its id, its number in the review and its
    own values of FIELDS (and COMPANIONS), as stored."""

    id: int
    number: int
    values: Mapping[str, object]


@dataclass(frozen=True)
class Kept:
    """The value a merged field keeps, the records it came from, and the rule that chose it."""

    value: object
    origins: tuple[int, ...]
    rule: str


@dataclass
class Merge:
    fields: dict[str, Kept] = field(default_factory=dict)
    companions: dict[str, object] = field(default_factory=dict)

    def values(self) -> dict[str, object]:
        """The merged values, companions included, as stored with the merge."""
        return {name: kept.value for name, kept in self.fields.items()} | self.companions

    def origins(self) -> dict[str, list[int]]:
        return {name: list(kept.origins) for name, kept in self.fields.items()}


def is_empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _plain_length(value: object) -> int:
    if isinstance(value, list | tuple):
        return len([v for v in value if not is_empty(v)])
    return len(_SPACE.sub(" ", _TAGS.sub("", str(value or ""))).strip())


def _term_key(term: object) -> str:
    return _SPACE.sub(" ", str(term)).strip().casefold()


def ordered(sources: Sequence[Source], primary_id: int) -> list[Source]:
    """The primary first, then the others by record number: the order ties are settled in."""
    return sorted(sources, key=lambda s: (s.id != primary_id, s.number, s.id))


def merge(
    sources: Sequence[Source], *, primary_id: int, choices: Mapping[str, int] | None = None
) -> Merge:
    """The merged values of a cluster: for each of FIELDS, what it keeps and from which records.

    ``choices`` maps a field to the record whose value a reviewer chose; a choice naming a record
    outside the cluster is an error (ValueError), never silently ignored.
    """
    records = ordered(sources, primary_id)
    if not records or records[0].id != primary_id:
        raise ValueError("The primary record is not in the cluster.")
    by_id = {s.id: s for s in records}
    result = Merge()
    for name, rule in FIELDS:
        chosen = (choices or {}).get(name)
        if chosen is not None:
            if chosen not in by_id:
                raise ValueError(f"Record {chosen} is not in the cluster ({name}).")
            source = by_id[chosen]
            result.fields[name] = Kept(source.values.get(name), (source.id,), CHOSEN)
            kept_from = source
        elif rule == UNION:
            result.fields[name] = _union(records, name)
            kept_from = None
        elif rule == LONGEST:
            kept_from = max(records, key=lambda s: _plain_length(s.values.get(name)))
            result.fields[name] = _one(kept_from, name, rule)
        else:
            kept_from = next((s for s in records if not is_empty(s.values.get(name))), records[0])
            result.fields[name] = _one(kept_from, name, rule)
        for companion in COMPANIONS.get(name, ()):
            result.companions[companion] = (kept_from or records[0]).values.get(companion)
    return result


def _one(source: Source, name: str, rule: str) -> Kept:
    value = source.values.get(name)
    return Kept(value, () if is_empty(value) else (source.id,), rule)


def _union(records: Sequence[Source], name: str) -> Kept:
    terms: list[object] = []
    seen: set[str] = set()
    origins: list[int] = []
    for source in records:
        added = False
        terms_of = source.values.get(name) or ()
        for term in terms_of if isinstance(terms_of, list | tuple) else ():
            key = _term_key(term)
            if key and key not in seen:
                seen.add(key)
                terms.append(term)
                added = True
        if added:
            origins.append(source.id)
    return Kept(terms, tuple(origins), UNION)
