"""Helpers for the pure literature tests (a module, not a conftest, so the tests also run with
`pytest -p no:django --noconftest`)."""

from pathlib import Path

from reviewapp.literature.parsers import ParsedRecord, ParseWarning, Rejection

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def split(items):
    """(records, rejections) from a parser's output, checking nothing but warnings slipped in."""
    records, rejections, _warnings = split3(items)
    return records, rejections


def split3(items):
    """(records, rejections, warnings) from a parser's output, checking nothing else slipped in."""
    items = list(items)
    records = [i for i in items if isinstance(i, ParsedRecord)]
    rejections = [i for i in items if isinstance(i, Rejection)]
    warnings = [i for i in items if isinstance(i, ParseWarning)]
    assert len(records) + len(rejections) + len(warnings) == len(items)
    return records, rejections, warnings


def parse_fixture(parser, relative):
    """Run `parser` over tests/fixtures/<relative> and return (records, rejections)."""
    with (FIXTURES / relative).open("rb") as handle:
        return split(parser(handle))


def fixture_bytes(relative):
    """The bytes of tests/fixtures/<relative>."""
    return (FIXTURES / relative).read_bytes()
