"""Property tests for the parsers of issue 16 (BibTeX, Web of Science, Ovid, Cochrane, RefWorks,
PMID/DOI lists) and for every parser over mutated real export files.

The property is the one of test_parsers_fuzz.py: whatever the bytes, a parser yields records,
rejections naming their record (and line), and warnings, or raises FileUnreadable with a message;
never another exception and never a ParserFault. Real fixtures are mutated the way files get
damaged: cut short, garbage lines inserted, lines dropped or repeated, re-encoded in the wrong
encoding, a byte flipped. Derandomized, no example database; FUZZ_EXAMPLES raises the count, and
bench/fuzz_parsers.py runs the same properties for a fixed time.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from reviewapp.literature.parsers import (
    PARSERS,
    ParsedRecord,
    Rejection,
    parse_bibtex,
    parse_cochrane,
    parse_idlist,
    parse_ovid,
    parse_refworks,
    parse_wos,
)
from tests.literature.test_parsers_fuzz import FUZZ, TEXT, WORDS, _auto, _read

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PUBMED_REPLY = (FIXTURES / "entrez" / "pubmed1.xml").read_bytes()


def _fetch(terms: list[str]):
    """A stand-in for PubMed: every query answers with the same recorded efetch reply."""
    for _term in terms[:3]:
        yield PUBMED_REPLY


def parse_idlist_fetching(fileobj, *, filename=""):
    return parse_idlist(fileobj, filename=filename, fetch=_fetch)


NEW_PARSERS = {
    "bibtex": parse_bibtex,
    "wos": parse_wos,
    "ovid": parse_ovid,
    "cochrane": parse_cochrane,
    "refworks": parse_refworks,
    "idlist": parse_idlist_fetching,
}

# (file, parser name) of every real export fixture small enough to mutate quickly; the large
# ones are cut to their first 24 KB first (a cut file is one of the mutations anyway).
FIXTURE_FILES = [
    ("bibtex/synthesisr_Scopus_bib_example.bib", "bibtex"),
    ("bibtex/pybibx_scopus_m.bib", "bibtex"),
    ("wos/synthesisr_WoS_txt_example.txt", "wos"),
    ("wos/metaknowledge_savedrecs.txt", "wos"),
    ("ovid/zotero_ovid_biosis.txt", "ovid"),
    ("ovid/zotero_ovid_journals.txt", "ovid"),
    ("malformed/cochrane_central.txt", "cochrane"),
    ("cochrane/bibliometrix_python_central.txt", "cochrane"),
    ("malformed/refworks_tagged.txt", "refworks"),
    ("refworks/citationjs_refworks_tagged.txt", "refworks"),
    ("malformed/wos_tab_delimited.txt", "csv"),
    ("wos/scientopy_wos_tab_delimited.txt", "csv"),
    ("scopus/metaknowledge_scopus_testing.csv", "csv"),
    ("csv/embase.csv", "csv"),
    ("ris/synthesisr_Ovid_ris_example.ris", "ris"),
    ("ris/asreview_ovid_zotero.ris", "ris"),
    ("ris/scopus.ris", "ris"),
    ("malformed/ovid_trailing_text.ris", "ris"),
    ("malformed/ebsco_ris.ris", "ris"),
    ("ris/synthesisr_ASP_ris_example.ris", "ris"),
    ("ris/citesource_ovid_medline_central.ris", "ris"),
    ("medline/pubmed_result2.txt", "medline"),
    ("entrez/pubmed2.xml", "pubmed-xml"),
    ("malformed/endnote.xml", "endnote-xml"),
    ("idlist/ncbi_esearch2_pmids.txt", "idlist"),
]
SAMPLE_BYTES = 24 * 1024
_FILES = {name: (FIXTURES / name).read_bytes()[:SAMPLE_BYTES] for name, _fmt in FIXTURE_FILES}
_PARSER_OF = {**PARSERS, "idlist": parse_idlist_fetching}

GARBAGE_LINES = st.one_of(
    TEXT,
    st.sampled_from(
        [
            "",
            "ER  -",
            "ER",
            "EF",
            "TY  - JOUR",
            "PT J",
            "<1. >",
            "Record #1 of 2",
            "RT Journal Article",
            "@article{x,",
            "}",
            '"',
            "Link to the Ovid Full Text or citation: http://ovidsp.ovid.com/x",
            "   continued text",
            "TI  - ",
            "TI ",
            "TI: ",
            "AU  - " + "x" * 1200,
            "PY  - n.d.",
            "\x00",
            "\ufffd",
        ]
    ),
)


@st.composite
def mutated_fixtures(draw) -> tuple[str, bytes]:
    """A real export damaged in one to three of the ways files get damaged."""
    name, fmt = draw(st.sampled_from(FIXTURE_FILES))
    data = _FILES[name]
    for _ in range(draw(st.integers(1, 3))):
        how = draw(
            st.sampled_from(
                ["cut", "insert", "drop", "repeat", "cp1252", "utf-16", "latin1-as-utf8", "flip"]
            )
        )
        lines = data.split(b"\n")
        if how == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif how == "insert":
            at = draw(st.integers(0, len(lines)))
            garbage = draw(GARBAGE_LINES).encode("utf-8", "surrogatepass")
            data = b"\n".join([*lines[:at], garbage, *lines[at:]])
        elif how == "drop" and lines:
            at = draw(st.integers(0, len(lines) - 1))
            data = b"\n".join(lines[:at] + lines[at + 1 :])
        elif how == "repeat" and lines:
            at = draw(st.integers(0, len(lines) - 1))
            data = b"\n".join([*lines[: at + 1], *lines[at:]])
        elif how == "cp1252":
            data = data.decode("utf-8", "replace").encode("cp1252", "replace")
        elif how == "utf-16":
            data = data.decode("utf-8", "replace").encode("utf-16")
        elif how == "latin1-as-utf8":
            data = data.decode("latin-1").encode("utf-8")
        elif how == "flip" and data:
            at = draw(st.integers(0, len(data) - 1))
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    return fmt, data


@FUZZ
@given(data=st.binary(max_size=2000))
def test_any_bytes_give_records_or_file_unreadable_from_every_new_parser(data):
    for parser in NEW_PARSERS.values():
        _read(parser, data)


STARTS = {
    "bibtex": b"@article{key,\n",
    "wos": b"FN Clarivate Analytics Web of Science\nVR 1.0\nPT J\n",
    "ovid": b"<1. >\nTI  - ",
    "cochrane": b"Record #1 of 2\nID: CN-01\nTI: ",
    "refworks": b"RT Journal Article\nT1 ",
    "idlist": b"12345678\n",
}


@FUZZ
@given(fmt=st.sampled_from(sorted(STARTS)), tail=st.binary(max_size=400))
def test_any_bytes_after_a_format_start_give_records_or_file_unreadable(fmt, tail):
    data = STARTS[fmt] + tail
    _read(NEW_PARSERS[fmt], data)
    _auto(data)


@st.composite
def tagged_files(draw) -> tuple[str, bytes]:
    """Nearly valid WoS, Ovid, Cochrane and RefWorks files: their own tags, values and breaks."""
    fmt = draw(st.sampled_from(["wos", "ovid", "cochrane", "refworks"]))
    tags = {
        "wos": ["PT", "AU", "AF", "TI", "SO", "PY", "DI", "PM", "AB", "BP", "EP", "DE", "ER", "EF"],
        "ovid": ["UI", "DB", "TI", "AU", "SO", "YR", "DO", "AB", "MH", "PT", "LG", "VN"],
        "cochrane": ["ID", "AU", "TI", "SO", "YR", "PM", "DOI", "KY", "PT", "VL", "PG"],
        "refworks": ["RT", "A1", "T1", "JF", "YR", "VO", "IS", "SP", "OP", "DO", "UL", "K1"],
    }[fmt]
    lines = [STARTS[fmt].decode().rstrip("\n ")]
    for _ in range(draw(st.integers(0, 25))):
        roll = draw(st.integers(0, 9))
        if roll == 0:
            lines.append(STARTS[fmt].decode().splitlines()[-1].rstrip(" :-"))
        elif roll == 1:
            lines.append("   " + draw(WORDS))
        elif roll == 2:
            lines.append(draw(GARBAGE_LINES))
        else:
            tag = draw(st.sampled_from(tags))
            separator = {"wos": " ", "refworks": " ", "ovid": "  - ", "cochrane": ": "}[fmt]
            lines.append(f"{tag}{separator}{draw(WORDS)}")
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return fmt, ending.join(lines).encode("utf-8", "surrogatepass")


@FUZZ
@given(case=tagged_files())
def test_near_valid_tagged_files_give_records_or_file_unreadable(case):
    fmt, data = case
    _read(NEW_PARSERS[fmt], data)
    _auto(data)


@st.composite
def bibtex_files(draw) -> bytes:
    """Nearly valid BibTeX: entries, fields, braces and quotes, some left open."""
    parts = [draw(st.sampled_from(["", "% exported\n", "Record #1 of 3\n"]))]
    for number in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["article", "inproceedings", "book", "misc", "string", "X"]))
        fields = []
        for _ in range(draw(st.integers(0, 8))):
            name = draw(st.sampled_from(["title", "author", "year", "doi", "journal", "pages"]))
            value = draw(WORDS).replace("\x00", "")
            open_, close = draw(st.sampled_from([("{", "}"), ('"', '"'), ("{", ""), ("", "")]))
            fields.append(f"  {name} = {open_}{value}{close}")
        key = draw(st.sampled_from([f"k{number}", "dup", "", "a b"]))
        end = draw(st.sampled_from(["}", "}", ")", ""]))
        parts.append(f"@{kind}{{{key},\n" + ",\n".join(fields) + f"\n{end}\n")
    return "".join(parts).encode("utf-8", "surrogatepass")


@FUZZ
@given(data=bibtex_files())
def test_near_valid_bibtex_gives_records_or_file_unreadable(data):
    _read(parse_bibtex, data)
    _auto(data)


@FUZZ
@given(case=mutated_fixtures())
def test_mutated_real_exports_give_records_or_file_unreadable(case):
    fmt, data = case
    _read(_PARSER_OF[fmt], data)
    _auto(data)


def test_every_fixture_reads_cleanly_before_mutation():
    """The mutations start from files each parser reads: a fixture that only fails is no start."""
    for name, fmt in FIXTURE_FILES:
        items = _read(_PARSER_OF[fmt], _FILES[name])
        assert items, name


def test_the_fixture_list_names_a_file_of_every_format():
    assert {fmt for _name, fmt in FIXTURE_FILES} == set(_PARSER_OF)


def test_a_text_mode_file_is_refused_by_each_new_parser():
    for parser in NEW_PARSERS.values():
        try:
            list(parser(io.StringIO("x")))
        except (TypeError, ValueError):
            continue
        raise AssertionError(f"{parser} read a text-mode file")


# --- text outside records ----------------------------------------------------------------------

# Where a record begins in each format: text put before these lines is outside any record (after
# the previous record's end, or after its last field where the format has no end line).
RECORD_STARTS = {
    "ris/synthesisr_Ovid_ris_example.ris": rb"^\d+\.\s*$",
    "malformed/ebsco_ris.ris": rb"^TY  - ",
    "ris/synthesisr_ASP_ris_example.ris": rb"^TY  - ",
    "ris/citesource_ovid_medline_central.ris": rb"^\d+\. $",
    "ris/asreview_proquest.ris": rb"^TY  - ",
    "wos/metaknowledge_savedrecs.txt": rb"^PT ",
    "ovid/zotero_ovid_biosis.txt": rb"^<\d+\. >",
    "ovid/zotero_ovid_journals.txt": rb"^<\d+\. >",
    "malformed/cochrane_central.txt": rb"^Record #",
    "cochrane/bibliometrix_python_central.txt": rb"^Record #",
    "malformed/refworks_tagged.txt": rb"^RT ",
    "refworks/citationjs_refworks_tagged.txt": rb"^RT ",
    "bibtex/synthesisr_Scopus_bib_example.bib": rb"^@",
}
BANNERS = st.one_of(
    st.sampled_from(
        [
            "Link to the Ovid Full Text or citation: http://ovidsp.ovid.com/ovidweb.cgi?T=JS&AN=1",
            "Copyright (c) 2026 Ovid Technologies, Inc.",
            "Provider: Cochrane",
            'Content: text/plain; charset="UTF-8"',
            "Database: Embase <1974 to 2026 December 04>",
            "Search Strategy:",
            "--------------------------------------------------------------------------------",
            "1     exp asthma/ (123456)",
            "Results: 40",
            "",
        ]
    ),
    st.from_regex(r"[a-z][a-z0-9 .,:;/=?&()-]{0,70}", fullmatch=True),
)


@FUZZ
@given(
    name=st.sampled_from(sorted(RECORD_STARTS)),
    banners=st.lists(st.lists(BANNERS, min_size=1, max_size=3), min_size=1, max_size=30),
    ending=st.sampled_from([b"\n", b"\r\n"]),
)
def test_text_outside_records_is_ignored_never_a_rejection(name, banners, ending):
    original = (FIXTURES / name).read_bytes()
    start = re.compile(RECORD_STARTS[name])
    lines = original.splitlines()
    out: list[bytes] = []
    turn = 0
    for line in lines:
        if start.match(line):
            out += [b.encode() for b in banners[turn % len(banners)]]
            turn += 1
        out.append(line)
    out += [b.encode() for b in banners[-1]]
    fmt = dict(FIXTURE_FILES).get(name) or "ris"
    before = _read(_PARSER_OF[fmt], original)
    after = _read(_PARSER_OF[fmt], ending.join(out) + ending)
    titles = [i.title for i in before if isinstance(i, ParsedRecord)]
    assert [i.title for i in after if isinstance(i, ParsedRecord)] == titles
    rejected = [i for i in before if isinstance(i, Rejection)]
    assert len([i for i in after if isinstance(i, Rejection)]) == len(rejected)
