"""Checks every parser applies before a record becomes a `ParsedRecord`, and the wording of
rejections, so a user sees the same kind of message whatever the format.

A rejection reason always starts with where the record is ("record 7 (line 81): ...") and then
says what is wrong in terms of the file's own field names (RIS tags, MEDLINE tags, CSV headers,
XML element names).
"""

from __future__ import annotations

from collections.abc import Iterable

from .base import Rejection
from .normalise import YEAR_MAX, YEAR_MIN, bad_character, parse_year


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


def check_characters(
    position: int, line: int | None, fields: Iterable[tuple[str, object]]
) -> Rejection | None:
    """Reject the record if any field holds U+FFFD or a control character, naming that field."""
    fields = list(fields)
    # One search over all the text first: almost every record is clean, and only a record with
    # a bad character needs the field-by-field search that names the field.
    if not bad_character(" ".join(text for _name, value in fields for text in _strings(value))):
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


def no_title(position: int, line: int | None, fields: list[str]) -> Rejection:
    """The rejection for a record without a title, listing the fields that were looked at."""
    joined = (", " if any("/" in name for name in fields) else "/").join(fields)
    verb = "is" if len(fields) == 1 else "are all"
    return reject(position, line, f"no title ({joined} {verb} empty)", field=fields[0])
