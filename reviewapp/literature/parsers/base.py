"""The plain shapes every parser produces. No Django here: parsers are pure and tested without a database.

A parser turns a file (or an Entrez reply) into a stream of `ParsedRecord` and `Rejection` items, in
file order, so an import can be streamed in batches and every rejection names its place in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class AbstractSection:
    """One labelled part of a structured abstract (label is '' for an unstructured abstract)."""

    label: str
    text: str


@dataclass(slots=True)
class ParsedRecord:
    """One citation as read from a source, with identifiers already normalised.

    position is the 1-based record number in the file; line is the 1-based line where the record
    starts, for formats that have lines (None otherwise).
    """

    position: int
    title: str
    line: int | None = None
    pmid: str = ""
    doi: str = ""
    pmcid: str = ""
    abstract: str = ""
    abstract_sections: list[AbstractSection] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    journal: str = ""
    year: int | None = None
    volume: str = ""
    issue: str = ""
    pages: str = ""
    keywords: list[str] = field(default_factory=list)
    mesh_terms: list[str] = field(default_factory=list)
    publication_types: list[str] = field(default_factory=list)
    language: str = ""
    # What the source said beyond the fields above, so nothing is lost: a dict of tags for
    # RIS/MEDLINE/CSV, the XML text for EndNote. For PubMed XML only the ArticleIdList
    # ({"article_ids": {"pubmed": ..., "doi": ..., "pii": ...}}): the whole record is in the
    # stored upload (record `position` of the file) and at PubMed under its PMID, and keeping its
    # XML a second time in every row cost more than reading it (see BENCHMARKS.md, import).
    raw: Any = None


@dataclass(slots=True)
class Rejection:
    """A record that could not be read: where it is in the file and why, in words a user can act on."""

    position: int
    reason: str
    line: int | None = None
    field: str = ""


@dataclass(slots=True)
class ParseWarning:
    """Something wrong with the file's structure that did not cost a record, but may have cost
    part of one (a last record without its end line, two records run together, files joined).

    The import shows it to the user beside the counts; position and line name the record it
    concerns (None for the file as a whole).
    """

    reason: str
    position: int | None = None
    line: int | None = None


class FileUnreadable(ValueError):
    """The whole file cannot be read (wrong format, not text, truncated beyond repair).

    This is the only exception a parser raises (besides TypeError for a text-mode file object):
    every other failure inside a parser is wrapped in it at the parser's boundary, with the
    record number and line where it happened when they are known.
    """

    def __init__(self, message: str, *, position: int | None = None, line: int | None = None):
        super().__init__(message)
        self.position = position
        self.line = line


class ParserFault(FileUnreadable):
    """An unexpected exception inside a parser (a fault in reviewapp, not in the file), wrapped
    at the parser's boundary so the import still fails cleanly with the record and line.

    The original exception is its __cause__. Tests assert it never happens.
    """
