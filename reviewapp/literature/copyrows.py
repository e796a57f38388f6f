"""COPY text for the rows an import writes, made straight from parsed records (PostgreSQL).

Building a Django model instance per record, then reading its fields back to write COPY's text,
cost about as much per record as parsing it (issue 13: imports at 4.6-7.3x a bare parse). Here a
record's line is made in one pass from the `ParsedRecord`, with the same values `Record` would
hold: `tests/literature/test_bulk.py` checks that both ways store identical rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring  # the C encoder; keeps non-ASCII characters as is

from reviewapp.literature.bulk import copy_field, copy_text_field
from reviewapp.literature.parsers import ParsedRecord

NULL = "\\N"
# The columns a parsed record's content fills, in the order record_content writes them; the bench
# database and the tests that compare COPY with bulk_create use the same list.
RECORD_CONTENT_COLUMNS = (
    "pmid",
    "doi",
    "pmcid",
    "title",
    "title_key",
    "abstract",
    "abstract_sections",
    "authors",
    "journal",
    "year",
    "volume",
    "issue",
    "pages",
    "keywords",
    "mesh_terms",
    "publication_types",
    "language",
    "raw",
)
# Record's columns in the order record_row writes them.
RECORD_COLUMNS = (
    "id",
    "number",
    "review_id",
    "search_id",
    "source_import_id",
    "source_position",
    *RECORD_CONTENT_COLUMNS,
    "created_at",
)
STATE_COLUMNS = ("review_id", "record_id", "stage", "state", "n_votes", "queue_key", "updated_at")
_dumps = json.JSONEncoder(ensure_ascii=False).encode


def _json_strings(values: Sequence[str]) -> str:
    # The common case (lists of plain strings) without the general encoder's per-call set-up.
    try:
        return "[" + ", ".join(map(encode_basestring, values)) + "]"
    except TypeError:
        return _dumps(values)


# Every byte but the controls: what is left of a text's UTF-8 without them is its controls.
_NOT_CONTROL = bytes(range(0x20, 0x100))


def _json_text(text: str) -> str:
    """`encode_basestring(text)` for a long text, which rarely needs any escape.

    The encoder looks at each character twice (4 ns a character here, 5 microseconds for an
    abstract); a text without quote, backslash or control character is only quoted.
    """
    if (
        '"' in text
        or "\\" in text
        or text.encode("utf-8", "surrogatepass").translate(None, _NOT_CONTROL)
    ):
        return encode_basestring(text)
    return f'"{text}"'


def _json_sections(parsed: ParsedRecord) -> str:
    return (
        "["
        + ", ".join(
            [
                f'{{"label": {encode_basestring(s.label)}, "text": {_json_text(s.text)}}}'
                for s in parsed.abstract_sections
            ]
        )
        + "]"
    )


def _json_raw(raw: dict) -> str:
    # What parsers keep (`{"article_ids": {type: id}}` and the like: string keys and values)
    # without the general encoder's per-call set-up; it does anything else, and the same text.
    try:
        return (
            "{"
            + ", ".join(
                f"{encode_basestring(key)}: "
                + (
                    encode_basestring(value)
                    if value.__class__ is str
                    else "{"
                    + ", ".join(
                        f"{encode_basestring(k)}: {encode_basestring(v)}" for k, v in value.items()
                    )
                    + "}"
                )
                for key, value in raw.items()
            )
            + "}"
        )
    except (TypeError, AttributeError):
        return _dumps(raw)


def record_content(parsed: ParsedRecord, *, title_key: str) -> str:
    """The columns a record's content fills (source_position, then RECORD_CONTENT_COLUMNS) in
    COPY's text format: everything of the row but its id, number, owners and time, so a parser
    process can make it before the ids exist (reviewapp.literature.parseproc)."""
    raw = parsed.raw if isinstance(parsed.raw, dict) else {"source": parsed.raw}
    year = NULL if parsed.year is None else str(parsed.year)
    columns = [
        str(parsed.position),
        parsed.pmid,
        parsed.doi,
        parsed.pmcid,
        parsed.title,
        title_key,
        parsed.abstract,
        _json_sections(parsed),
        _json_strings(parsed.authors),
        parsed.journal[:500],
        year,
        parsed.volume[:50],
        parsed.issue[:50],
        parsed.pages[:100],
        _json_strings(parsed.keywords),
        _json_strings(parsed.mesh_terms),
        _json_strings(parsed.publication_types),
        parsed.language[:50],
        _json_raw(raw),
    ]
    # COPY's escaping column by column (a call and four scans each) cost an eighth of the row.
    # The columns but the abstract (whose paragraphs are separated by newlines) and the year
    # (NULL is "\\N") are nearly always clean, which three scans of them joined tell at once.
    abstract, columns[6] = columns[6], ""
    columns[10] = ""
    joined = "\t".join(columns)
    if "\\" in joined or "\n" in joined or "\r" in joined or joined.count("\t") != len(columns) - 1:
        columns = [copy_text_field(column) for column in columns]
    columns[6] = copy_text_field(abstract)
    columns[10] = year
    return "\t".join(columns)


def record_row(*, record_id: int, number: int, prefix: str, content: str, created_at: str) -> str:
    """One Record row in COPY's text format, in RECORD_COLUMNS order, from `record_content`.

    `prefix`: the review, search and import columns, already as COPY text and joined by tabs
    (`record_prefix`).
    """
    return f"{record_id}\t{number}\t{prefix}\t{content}\t{created_at}"


def record_prefix(*, review_id: int, search_id: int | None, import_id: int | None) -> str:
    """The review, search and import columns of every record of one write."""
    return "\t".join(copy_field(value) for value in (review_id, search_id, import_id))
