"""Expectations read from a real export file itself, without the app's parsers, so that the
format tests compare the parser with the file rather than with guesses."""

from pathlib import Path


def tagged_records(path: Path) -> list[dict[str, list[str]]]:
    """A RIS file's own "XX  - value" lines, record by record (a record ends at its ER line)."""
    records: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        tag, _, value = line.partition("  - ")
        if tag == "ER":
            records.append(current)
            current = {}
        elif value and len(tag) == 2:
            current.setdefault(tag, []).append(value.strip())
    return records
