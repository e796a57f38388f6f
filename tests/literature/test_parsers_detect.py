"""Format detection and the parse() entry point."""

import io

import pytest

from reviewapp.literature.parsers import PARSERS, FileUnreadable, detect_format, parse
from tests.literature.helpers import FIXTURES, fixture_bytes, split


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("entrez/pubmed1.xml", "pubmed-xml"),
        ("entrez/pubmed5.xml", "pubmed-xml"),
        ("medline/pubmed_result2.txt", "medline"),
        ("ris/_baseline.ris", "ris"),
        ("ris/embase.ris", "ris"),
        ("ris/scopus.ris", "ris"),
        ("ris/web_of_science.txt", "ris"),
        ("ris/pubmed_zotero.ris", "ris"),
        ("malformed/ovid_numbered.ris", "ris"),
        ("malformed/cp1252.ris", "ris"),
        ("csv/embase.csv", "csv"),
        ("labelled/Cohen_2006_NSAIDS.csv", "csv"),
        ("malformed/endnote.xml", "endnote-xml"),
    ],
)
def test_each_format_is_detected_from_its_first_bytes(relative, expected):
    assert detect_format(fixture_bytes(relative)[:8192], "") == expected


def test_content_wins_over_a_misleading_file_name():
    assert detect_format(fixture_bytes("entrez/pubmed1.xml")[:8192], "export.ris") == "pubmed-xml"


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"", "empty"),
        (b"%PDF-1.7 binary", "PDF"),
        (b"PK\x03\x04\x14\x00", "ZIP archive"),
        (b"\x00\x01\x02binary", "binary data"),
        (fixture_bytes("entrez/pubmed3.html")[:8192], "web page"),
        (fixture_bytes("entrez/epost2.xml"), "Invalid db name"),
        (b"just some notes\nnothing tagged\n", "could not be recognised"),
    ],
)
def test_unreadable_heads_say_why(head, message):
    with pytest.raises(FileUnreadable, match=message):
        detect_format(head, "upload.ris")


def test_parse_auto_detects_and_streams_records():
    with (FIXTURES / "ris/scopus.ris").open("rb") as handle:
        records, _ = split(parse(handle, filename="scopus.ris"))
    assert len(records) == 6


def test_parse_with_an_explicit_format_uses_that_parser():
    records, _ = split(
        parse(io.BytesIO(fixture_bytes("medline/pubmed_result1.txt")), format="medline")
    )
    assert records[0].pmid == "12230038"


def test_parse_reads_a_non_seekable_stream():
    class OneWay(io.RawIOBase):
        def __init__(self, data):
            self._inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self._inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    records, _ = split(parse(OneWay(fixture_bytes("ris/embase.ris"))))
    assert len(records) == 6


def test_an_unknown_format_name_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown format"):
        parse(io.BytesIO(b"x"), format="no-such-format")


def test_the_registry_names_every_format_and_the_import_choices_match_it():
    from reviewapp.literature.constants import ImportFormat

    assert sorted(PARSERS) == [
        "bibtex",
        "cochrane",
        "csv",
        "endnote-xml",
        "idlist",
        "medline",
        "ovid",
        "pubmed-xml",
        "refworks",
        "ris",
        "wos",
    ]
    assert sorted(ImportFormat.values) == sorted(PARSERS)


def test_a_cochrane_plain_text_export_with_lines_ended_by_cr_alone_is_detected_and_read():
    # A saved Cochrane Library plain-text export (citation-export.txt, 271 records, in a public
    # repository without a licence, so not copied here) has a BOM and CR line ends; detection
    # matched no line after the first and refused it. The project's own file, ends changed:
    data = b"\xef\xbb\xbf" + fixture_bytes("malformed/cochrane_central.txt").replace(b"\n", b"\r")
    assert detect_format(data, "citation-export.txt") == "cochrane"
    records, rejections = split(parse(io.BytesIO(data), filename="citation-export.txt"))
    assert [r.title[:20] for r in records] == ["Quality of life in p", "Nasal nitric oxide i"]
    assert len(rejections) == 1


@pytest.mark.parametrize("ending", [b"\r", b"\r\n"])
def test_the_real_cochrane_plain_text_excerpt_reads_the_same_with_a_bom_and_cr_line_ends(ending):
    # Whether Wiley's plain-text export ends lines with LF, CRLF or CR depends on when it was
    # saved (the index served the real excerpt with LF): each gives the same records.
    original = fixture_bytes("cochrane/bibliometrix_python_central.txt")
    data = b"\xef\xbb\xbf" + original.replace(b"\n", ending)
    assert detect_format(data[:65536], "citation-export.txt") == "cochrane"
    expected, _ = split(parse(io.BytesIO(original), filename="citation-export.txt"))
    records, rejections = split(parse(io.BytesIO(data), filename="citation-export.txt"))
    assert (len(records), rejections) == (12, [])
    assert [(r.title, r.pmid, r.doi, r.authors, r.abstract) for r in records] == [
        (r.title, r.pmid, r.doi, r.authors, r.abstract) for r in expected
    ]
