"""Checks every parser applies before a record becomes a `ParsedRecord`, and the wording of
rejections, so a user sees the same kind of message whatever the format.

A rejection reason always starts with where the record is ("record 7 (line 81): ...") and then
says what is wrong in terms of the file's own field names (RIS tags, MEDLINE tags, CSV headers,
XML element names).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from .base import FileUnreadable, ParsedRecord, ParserFault, ParseWarning, Rejection
from .limits import LABELS, LIST_MAX, RECORD_XML_MAX, SOURCE_VALUE_MAX, TEXT_MAX
from .normalise import YEAR_MAX, YEAR_MIN, bad_character, parse_year

Item = ParsedRecord | Rejection | ParseWarning


def where(position: int, line: int | None) -> str:
    """ "record 7 (line 81)" or "record 7" for formats without lines."""
    return f"record {position} (line {line})" if line else f"record {position}"


def reject(position: int, line: int | None, reason: str, field: str = "") -> Rejection:
    """A Rejection whose reason starts with the record's place in the file."""
    return Rejection(
        position=position, reason=f"{where(position, line)}: {reason}", line=line, field=field
    )


def _strings(value: object) -> Iterable[str]:
    if value is None:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    else:
        yield str(value)


def _joined(fields: list[tuple[str, object]]) -> str:
    """The fields' texts joined by spaces, as `_strings` lists them."""
    # Fields are nearly always strings and lists of strings: joined directly, without walking
    # every value through the generators, unless a list holds something else (join refuses it).
    parts: list[str] = []
    for _name, value in fields:
        if value.__class__ is str:
            parts.append(value)  # type: ignore[arg-type]
        elif value.__class__ is list:
            parts.extend(value)  # type: ignore[arg-type]
        else:
            parts.extend(_strings(value))
    try:
        return " ".join(parts)
    except TypeError:
        return " ".join(text for _name, value in fields for text in _strings(value))


def check_characters(
    position: int, line: int | None, fields: Iterable[tuple[str, object]]
) -> Rejection | None:
    """Reject the record if any field holds U+FFFD or a control character, naming that field."""
    fields = list(fields)
    # One search over all the text first: almost every record is clean, and only a record with
    # a bad character needs the field-by-field search that names the field.
    if not bad_character(_joined(fields)):
        return None
    for name, value in fields:
        for text in _strings(value):
            problem = bad_character(text)
            if problem:
                return reject(
                    position,
                    line,
                    f"field {name} contains {problem}; fix the text in the source or export "
                    "the file again as UTF-8",
                    field=name,
                )
    return None


def pick_year(
    position: int, line: int | None, candidates: Iterable[tuple[str, str]]
) -> int | None | Rejection:
    """Return the first plausible year among (field, value) pairs in order of preference.

    None when no year field has a value; a Rejection when some had a value but none was a
    plausible year, since a record that cannot be placed in time would mislead date limits.
    """
    garbage: tuple[str, str] | None = None
    for name, value in candidates:
        value = (value or "").strip()
        if not value:
            continue
        year = parse_year(value)
        if year is not None:
            return year
        if garbage is None:
            garbage = (name, value)
    if garbage is None:
        return None
    name, value = garbage
    return reject(
        position,
        line,
        f"the year in {name} ({value!r}) is not a year between {YEAR_MIN} and {YEAR_MAX}",
        field=name,
    )


def number_or_blank(value: str, name: str) -> str:
    """A volume or issue as the source wrote it, or "" when it holds words and is longer than any
    such number can be (`limits.TEXT_MAX`).

    Sources put other fields there: Ovid's CENTRAL a conference name in VL, Embase an author's
    affiliation in M1 (RIS's issue tag, which reference managers and Covidence then export as the
    issue), Zotero a reference in IS. Such a value stays in `raw`; taking it for the number would
    reject the whole record for a field that was never a number.
    """
    return "" if len(value) > TEXT_MAX[name] and " " in value else value


def no_title(position: int, line: int | None, fields: list[str]) -> Rejection:
    """The rejection for a record without a title, listing the fields that were looked at."""
    joined = (", " if any("/" in name for name in fields) else "/").join(fields)
    verb = "is" if len(fields) == 1 else "are all"
    return reject(position, line, f"no title ({joined} {verb} empty)", field=fields[0])


def _too_long(position: int, line: int | None, name: str, label: str, length: int, limit: int):
    return reject(
        position,
        line,
        f"the {label} is {length:,} characters long; the longest accepted is {limit:,}, so the "
        "file is probably damaged there (or a whole text was pasted into one field)",
        field=name,
    )


def check_lengths(record: ParsedRecord, source: object = None) -> ParsedRecord | Rejection:
    """Return the record, or a Rejection naming the first field longer than `limits` allows.

    `source` is what the record keeps in `raw`: a dict of tag -> value or values, each value held
    to `limits.SOURCE_VALUE_MAX` and named by its tag, or the record's XML, held to
    `limits.RECORD_XML_MAX`. Nothing is ever cut short. About 7 microseconds a record: plain
    loops measured faster here than map/max over the fields.
    """
    position, line = record.position, record.line
    for name, limit in TEXT_MAX.items():
        value = getattr(record, name)
        if len(value) > limit:
            return _too_long(position, line, name, LABELS[name], len(value), limit)
    for name, (most, longest) in LIST_MAX.items():
        values = getattr(record, name)
        if len(values) > most:
            return reject(
                position,
                line,
                f"the {LABELS[name]} has {len(values):,} entries; the most accepted is {most:,}, "
                "so the file is probably damaged there",
                field=name,
            )
        for value in values:
            if len(value) > longest:
                return _too_long(
                    position, line, name, f"entry of the {LABELS[name]}", len(value), longest
                )
    if isinstance(source, str) and len(source) > RECORD_XML_MAX:
        return _too_long(position, line, "record", "record's XML", len(source), RECORD_XML_MAX)
    if isinstance(source, dict):
        for tag, value in source.items():
            for text in (value,) if isinstance(value, str) else value:
                if isinstance(text, str) and len(text) > SOURCE_VALUE_MAX:
                    return _too_long(
                        position, line, str(tag), f"field {tag}", len(text), SOURCE_VALUE_MAX
                    )
    return record


def _file_name(fileobj: object, filename: str) -> str:
    if filename:
        return os.path.basename(filename)
    name = getattr(fileobj, "name", "")
    return os.path.basename(name) if isinstance(name, str) else ""


def guarded(reader: str) -> Callable:
    """Make a parser raise only FileUnreadable, whatever goes wrong inside it.

    A parser is a generator over a binary file object. Anything other than FileUnreadable that
    escapes it is a fault in the parser, not something the user could fix in the file; it is
    wrapped in FileUnreadable naming the file, the record being read and the line after which it
    starts (the start line of the last record given out), so the import fails with a message
    instead of an internal error, and the original exception stays chained for the logs.
    The wrapped parser also takes `filename`, used only in that message; other keyword
    arguments go to the parser (the PMID/DOI list's `fetch`).
    """

    def decorate(parser: Callable[[BinaryIO], Iterator[Item]]) -> Callable[..., Iterator[Item]]:
        @functools.wraps(parser)
        def wrapper(fileobj: BinaryIO, *, filename: str = "", **options) -> Iterator[Item]:
            position, line = 0, None
            try:
                for item in parser(fileobj, **options):
                    if item.position:
                        position, line = item.position, item.line
                    yield item
            except FileUnreadable:
                raise
            except Exception as error:
                name = _file_name(fileobj, filename)
                where = f"record {position + 1}" + (f" (after line {line})" if line else "")
                raise ParserFault(
                    f"{where}{f' of {name}' if name else ''} could not be read: the {reader} "
                    f"reader stopped on an unexpected error ({error.__class__.__name__}: "
                    f"{str(error)[:200]}). This is a fault in reviewapp rather than in the file; "
                    "please report it with the file.",
                    position=position + 1,
                    line=line,
                ) from error

        return wrapper

    return decorate
