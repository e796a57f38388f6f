"""Damaged files (issue 12): each fault reported gets its parser's own error, a rejection naming
the record and field, or a warning naming the record or line, never another exception and never
a silent import."""

import io

import pytest

from reviewapp.literature.parsers import (
    FileUnreadable,
    ParsedRecord,
    ParserFault,
    detect_format,
    parse,
    parse_csv,
    parse_endnote_xml,
    parse_medline,
    parse_pubmed_xml,
    parse_ris,
    ris,
)
from reviewapp.literature.parsers.limits import SOURCE_VALUE_MAX, TEXT_MAX
from tests.literature.helpers import FIXTURES, fixture_bytes, split3


def _parse(relative, **options):
    with (FIXTURES / relative).open("rb") as handle:
        return split3(parse(handle, filename=relative.rsplit("/", 1)[-1], **options))


# --- exceptions that were not the parsers' own ---------------------------------------------------


def test_a_csv_header_with_a_lone_carriage_return_is_read_with_a_warning_not_a_csv_error():
    # Was _csv.Error ("new-line character seen in unquoted field") from format detection.
    assert detect_format(fixture_bytes("malformed/csv_cr_in_header.csv")) == "csv"
    records, rejections, warnings = _parse("malformed/csv_cr_in_header.csv")
    assert [w.line for w in warnings] == [1]
    assert "lone carriage return" in warnings[0].reason
    # The CR splits the header: "Abstract,Year,DOI" and the rows do not fit "Title" alone,
    # so each is rejected, by its line.
    assert records == [] and [(r.position, r.line) for r in rejections] == [(1, 2), (2, 3), (3, 4)]


def test_a_medline_record_opening_with_a_continuation_line_is_rejected_not_a_key_error():
    # Was KeyError('') from Bio.Medline, which files a continuation under the previous tag.
    records, rejections, _warnings = _parse("malformed/medline_continuation_first.txt")
    assert [r.pmid for r in records] == ["12230038"]
    (rejection,) = rejections
    assert (rejection.position, rejection.line) == (2, 5)
    assert rejection.reason.startswith("record 2 (line 5): line 5 is neither")


def test_a_loose_medline_tag_layout_is_read_not_cut_at_column_six():
    # Bio.Medline takes the value from column 6: "PMID-12345" would have been PMID "2345".
    records, rejections = split3(
        parse_medline(io.BytesIO(b"PMID-12345\nTI- A title\nDP - 2001\n"))
    )[:2]
    assert rejections == []
    assert (records[0].pmid, records[0].title, records[0].year) == ("12345", "A title", 2001)


def test_an_unexpected_error_inside_a_parser_becomes_file_unreadable_naming_file_record_and_line(
    monkeypatch,
):
    real_build = ris._build

    def broken_build(position, line, record, first_tag):
        if position == 2:
            raise KeyError("boom")
        return real_build(position, line, record, first_tag)

    monkeypatch.setattr(ris, "_build", broken_build)
    items = parse_ris(io.BytesIO(fixture_bytes("ris/embase.ris")), filename="embase.ris")
    assert isinstance(next(items), ParsedRecord)
    with pytest.raises(ParserFault) as raised:
        next(items)
    message = str(raised.value)
    assert message.startswith("record 2 (after line 1) of embase.ris could not be read")
    assert "KeyError" in message
    assert isinstance(raised.value, FileUnreadable)
    assert (raised.value.position, raised.value.line) == (2, 1)
    assert isinstance(raised.value.__cause__, KeyError)


# --- damaged structure ---------------------------------------------------------------------------


def test_ris_records_without_er_are_imported_with_a_warning_naming_each():
    records, rejections, warnings = _parse("malformed/ris_missing_er.ris")
    assert [r.title for r in records] == [
        "Aspirin after stroke",
        "Statins in the elderly",
        "Exercise for low back pain",
        "A record cut short by the end of the file",
    ]
    assert rejections == []
    assert [(w.position, w.line) for w in warnings] == [(2, 6), (4, 15)]
    assert warnings[0].reason.startswith("record 2 (line 6): the record has no 'ER  - ' line")
    assert "record 3 begins (TY, line 10)" in warnings[0].reason
    assert "the last record has no 'ER  - ' line" in warnings[1].reason


def test_medline_records_run_together_are_read_as_two_with_a_warning_naming_the_second():
    records, rejections, warnings = _parse("malformed/medline_run_together.txt")
    # Before: one record with PMID ['12230038', '16403221'] and both titles joined.
    assert [r.pmid for r in records] == ["12230038", "16403221", "16377612"]
    assert records[1].title.startswith("A high level interface")
    assert records[1].line == 5
    assert rejections == []
    (warning,) = warnings
    assert (warning.position, warning.line) == (2, 5)
    assert "follows record 1 without a blank line" in warning.reason


def test_a_medline_record_with_a_second_pmid_not_at_its_start_is_rejected_naming_it():
    data = b"TI  - First\nPMID- 1\nDP  - 2001\nPMID- 2\nTI  - Second\n\nPMID- 3\nTI  - Third\n"
    records, rejections, _warnings = split3(parse_medline(io.BytesIO(data)))
    assert [r.pmid for r in records] == ["3"]
    (rejection,) = rejections
    assert (rejection.position, rejection.field) == (1, "PMID")
    assert "second PMID (line 4)" in rejection.reason


def test_a_csv_with_only_a_header_is_unreadable_not_an_empty_import():
    with pytest.raises(FileUnreadable, match="header row but no records"):
        _parse("malformed/csv_header_only.csv")


@pytest.mark.parametrize(
    "parser", [parse_ris, parse_medline, parse_csv, parse_pubmed_xml, parse_endnote_xml]
)
def test_an_empty_file_is_unreadable_for_every_parser(parser):
    with pytest.raises(FileUnreadable, match="empty"):
        list(parser(io.BytesIO(b"\xef\xbb\xbf\r\n")))


def test_a_repeated_csv_header_row_is_rejected_naming_its_record():
    data = b"Title,Year\nFirst,2001\nTitle,Year\nSecond,2002\n"
    records, rejections, _warnings = split3(parse_csv(io.BytesIO(data)))
    assert [r.title for r in records] == ["First", "Second"]
    (rejection,) = rejections
    assert (rejection.position, rejection.line) == (2, 3)
    assert "repeats the header" in rejection.reason


def test_files_joined_together_warn_at_the_second_bom_and_the_change_of_line_ends():
    records, rejections, warnings = _parse("malformed/ris_joined_files.ris")
    assert [r.title for r in records] == ["Aspirin after stroke", "Statins in the elderly"]
    assert records[0].abstract.endswith("as Lens writes it.")
    assert rejections == []
    assert [(w.position, w.line) for w in warnings] == [(None, 8), (None, 9)]
    assert "second byte-order mark" in warnings[0].reason
    assert "Windows (CRLF) first, then Unix (LF) from line 9" in warnings[1].reason


def test_a_leading_bom_and_lf_inside_a_crlf_field_give_no_warning():
    # The real exports: a UTF-8 BOM at the start, CRLF lines, multi-line abstracts in LF.
    records, rejections, warnings = _parse("ris/_baseline.ris")
    assert len(records) == 100 and rejections == [] and warnings == []
    assert not records[0].title.startswith("\ufeff")


# --- field length caps ---------------------------------------------------------------------------

LONG_TITLE = "A" * (TEXT_MAX["title"] + 1)


def _ris_file(title: str) -> bytes:
    return (
        "TY  - JOUR\nTI  - Short and fine\nER  - \n"
        f"TY  - JOUR\nTI  - {title}\nPY  - 2020\nER  - \n"
        "TY  - JOUR\nTI  - Also fine\nER  - \n"
    ).encode()


FILES_WITH_A_LONG_TITLE = {
    "ris": (parse_ris, _ris_file(LONG_TITLE)),
    "medline": (
        parse_medline,
        f"PMID- 1\nTI  - Fine\n\nPMID- 2\nTI  - {LONG_TITLE}\n\nPMID- 3\nTI  - Fine\n".encode(),
    ),
    "csv": (parse_csv, f"Title,Year\nFine,2001\n{LONG_TITLE},2002\nFine,2003\n".encode()),
    "pubmed-xml": (
        parse_pubmed_xml,
        (
            "<PubmedArticleSet>"
            + "".join(
                f"<PubmedArticle><MedlineCitation><PMID>{n}</PMID><Article>"
                f"<ArticleTitle>{title}</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
                for n, title in [(1, "Fine"), (2, LONG_TITLE), (3, "Fine")]
            )
            + "</PubmedArticleSet>"
        ).encode(),
    ),
    "endnote-xml": (
        parse_endnote_xml,
        (
            "<xml><records>"
            + "".join(
                f"<record><titles><title>{title}</title></titles></record>"
                for title in ["Fine", LONG_TITLE, "Fine"]
            )
            + "</records></xml>"
        ).encode(),
    ),
}


@pytest.mark.parametrize("fmt", FILES_WITH_A_LONG_TITLE)
def test_a_title_longer_than_the_cap_rejects_its_record_naming_the_field(fmt):
    parser, data = FILES_WITH_A_LONG_TITLE[fmt]
    records, rejections, _warnings = split3(parser(io.BytesIO(data)))
    assert [r.position for r in records] == [1, 3]
    (rejection,) = rejections
    assert (rejection.position, rejection.field) == (2, "title")
    assert f"the title is {len(LONG_TITLE):,} characters long; the longest accepted is 4,000" in (
        rejection.reason
    )


def test_a_30_mb_ris_title_is_rejected_not_imported():
    records, rejections, _warnings = split3(parse_ris(io.BytesIO(_ris_file("x" * 30_000_000))))
    assert [r.title for r in records] == ["Short and fine", "Also fine"]
    assert rejections[0].field == "title" and "30,000,000 characters" in rejections[0].reason


def test_an_overlong_unmapped_ris_field_is_rejected_naming_its_tag():
    data = f"TY  - JOUR\nTI  - Fine\nN1  - {'n' * (SOURCE_VALUE_MAX + 1)}\nER  - \n".encode()
    (rejection,) = split3(parse_ris(io.BytesIO(data)))[1]
    assert rejection.field == "N1" and "field N1" in rejection.reason


def test_a_csv_cell_beyond_the_csv_modules_own_limit_rejects_one_row_not_the_file():
    # csv's default 131,072-character cell limit used to fail the whole file.
    data = f'Title,Abstract\nFine,x\nLong,"{"a" * 300_000}"\nFine too,y\n'.encode()
    records, rejections, _warnings = split3(parse_csv(io.BytesIO(data)))
    assert [r.title for r in records] == ["Fine", "Fine too"]
    assert [(r.position, r.field) for r in rejections] == [(2, "abstract")]


def test_too_many_authors_rejects_the_record_naming_the_author_list():
    authors = "".join(f"AU  - Name{n}, A\n" for n in range(25_001))
    data = f"TY  - JOUR\nTI  - Fine\n{authors}ER  - \n".encode()
    (rejection,) = split3(parse_ris(io.BytesIO(data)))[1]
    assert rejection.field == "authors" and "25,001 entries" in rejection.reason


def test_every_capped_text_field_fits_its_database_column():
    from reviewapp.literature.models import Record

    for name, limit in TEXT_MAX.items():
        column = Record._meta.get_field(name)
        if getattr(column, "max_length", None):
            assert limit <= column.max_length, name
