"""The longest value a record may hold in each field: the one place these caps are set.

No real record comes near them (the longest PubMed titles are under 1,000 characters, the longest
abstracts under 30,000, the longest author lists about 15,000 names); a value beyond them means a
damaged file or a whole text pasted into one field (a 30 MB RIS title once became a 30 MB
screening page). Such a record is rejected, naming the field, never cut short: a cut value would
be silently wrong. The short fields are capped at the size of their database column
(`reviewapp.literature.models.Record`; a test keeps the two in step).
"""

from __future__ import annotations

# Single text fields of `ParsedRecord`, in characters.
TEXT_MAX: dict[str, int] = {
    "title": 4_000,
    "abstract": 200_000,
    "journal": 500,
    "doi": 255,
    "volume": 50,
    "issue": 50,
    "pages": 100,
    "language": 50,
}
# List fields: (most items, longest item).
LIST_MAX: dict[str, tuple[int, int]] = {
    "authors": (25_000, 1_000),
    "keywords": (5_000, 1_000),
    "mesh_terms": (2_000, 1_000),
    "publication_types": (200, 500),
}
# Any field of the source kept only in `raw` (a RIS N1 note, a CSV column we do not map).
SOURCE_VALUE_MAX = 200_000
# The XML of one EndNote record, kept whole in `raw`.
RECORD_XML_MAX = 2_000_000

LABELS = {
    "title": "title",
    "abstract": "abstract",
    "journal": "journal",
    "doi": "DOI",
    "volume": "volume",
    "issue": "issue",
    "pages": "pages",
    "language": "language",
    "authors": "author list",
    "keywords": "keyword list",
    "mesh_terms": "MeSH term list",
    "publication_types": "publication type list",
}
