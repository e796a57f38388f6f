"""Expectations read from a real export file itself, without the app's parsers, so that the
format tests compare the parser with the file rather than with guesses."""

import csv
import html
import re
from pathlib import Path


def tagged_records(path: Path) -> list[dict[str, list[str]]]:
    """A RIS file's own "XX  - value" lines, record by record (a record ends at its ER line,
    written "ER  - " or, trailing space trimmed, "ER  -")."""
    records: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        tag, _, value = line.partition("  - ")
        if tag == "ER" or line.rstrip() == "ER  -":
            records.append(current)
            current = {}
        elif value and len(tag) == 2:
            current.setdefault(tag, []).append(value.strip())
    return records


def csv_rows(path: Path) -> list[dict[str, str]]:
    """A CSV export's rows by its own header, read with the standard library."""
    with path.open(encoding="utf-8-sig", newline="") as fileobj:
        return list(csv.DictReader(fileobj))


def without_scopus_markup(text: str) -> str:
    """Scopus writes sub- and superscripts as <inf>/<sup> and "[No abstract available]" for none."""
    if re.fullmatch(r"\[No [a-z ]+ available\]", text):
        return ""
    return " ".join(re.sub(r"</?(?:inf|sup)>", "", html.unescape(text)).split())


def ovid_expected(fields: dict[str, list[str]]) -> dict:
    """What an Ovid RIS record holds, read the way Ovid writes it: ID is the PMID when the L2 link
    points into MEDLINE (D=medp), DO is a dx.doi.org link, CENTRAL puts all authors on one A1
    line ("Malone TC, Mennenga SE") and a conference name in VL."""
    link = fields.get("L2", [""])[0]
    authors = fields.get("A1", [])
    if len(authors) == 1 and authors[0].count(", ") > 1:
        surnames = [name.rsplit(" ", 1)[0] for name in authors[0].split(", ")]
    else:
        surnames = [name.split(",")[0] for name in authors]
    volume = fields.get("VL", [""])[0]
    return {
        "title": fields["T1"][0],
        "year": int(fields["Y1"][0][:4]),
        "surnames": surnames,
        "pmid": fields["ID"][0] if "D=medp&" in link else "",
        "doi": fields.get("DO", [""])[0].removeprefix("https://dx.doi.org/").lower(),
        "abstract": " ".join(fields.get("N2", [""])[0].split()),
        "volume": "" if " " in volume else volume,
    }


def wos_records(path: Path) -> list[dict[str, list[str]]]:
    """A Web of Science plain-text export's own fields, record by record: "XX value" lines, a
    continuation line (three spaces) adding one more value to the field above, ER ending a record."""
    records: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] = {}
    tag = ""
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if line.startswith("   ") and tag:
            current[tag].append(line.strip())
        elif line[:2] == "ER":
            records.append(current)
            current, tag = {}, ""
        elif len(line) > 3 and line[2] == " ":
            tag = line[:2]
            current.setdefault(tag, []).append(line[3:].strip())
    return records


def tab_rows(path: Path) -> list[dict[str, str]]:
    """A Web of Science tab-delimited export's rows by its own header (no quoting: a tab never
    occurs inside a WoS value)."""
    with path.open(encoding="utf-8-sig", newline="") as fileobj:
        return list(csv.DictReader(fileobj, delimiter="\t", quoting=csv.QUOTE_NONE))


def refworks_records(path: Path) -> list[dict[str, list[str]]]:
    """A RefWorks tagged export's own "XX value" lines, record by record (an RT line starts one)."""
    records: list[dict[str, list[str]]] = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        tag, _, value = line.partition(" ")
        if tag == "RT":
            records.append({})
        if records and len(tag) == 2 and value.strip():
            records[-1].setdefault(tag, []).append(value.strip())
    return records


def ovid_tagged_records(path: Path) -> list[dict[str, list[str]]]:
    """An Ovid tagged export's own "XX  - value" lines, record by record ("<12. >" starts one)."""
    records: list[dict[str, list[str]]] = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if re.fullmatch(r"<\d+\. >", line.strip()):
            records.append({})
            continue
        tag, _, value = line.partition("  - ")
        if records and value and 2 <= len(tag) <= 4 and tag.isupper():
            records[-1].setdefault(tag, []).append(value.strip())
    return records


def cochrane_records(path: Path) -> list[dict[str, list[str]]]:
    """A Cochrane Library plain-text export's own "XX: value" lines, record by record (a "Record #3
    of 151" line starts one; DOI is the one three-letter tag)."""
    records: list[dict[str, list[str]]] = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if re.fullmatch(r"Record #\d+ of \d+", line.strip()):
            records.append({})
            continue
        tag, _, value = line.partition(": ")
        if records and value and 2 <= len(tag) <= 3 and tag.isupper():
            records[-1].setdefault(tag, []).append(value.strip())
    return records


def medline_records(path: Path) -> list[dict[str, list[str]]]:
    """A MEDLINE (PubMed format) export's own fields, record by record: "TAG - value" lines, a
    line starting with six spaces continuing the value above, a "PMID- " line starting a record."""
    records: list[dict[str, list[str]]] = []
    tag = ""
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if line.startswith("      ") and tag and records:
            records[-1][tag][-1] += " " + line.strip()
        elif len(line) > 6 and line[4:6] == "- ":
            tag = line[:4].strip()
            if tag == "PMID":
                records.append({})
            if records:
                records[-1].setdefault(tag, []).append(line[6:].strip())
    return records


def table_rows(path: Path, title: str, delimiter: str = ",") -> list[dict[str, str]]:
    """A CSV or TSV export's rows by its own header, read with the standard library: the header
    is the first row holding a `title` column (Embase writes its search above it), and a row of
    one cell only (abstrackr's "citations that are not yet labeled by anyone") is no record."""
    with path.open(encoding="utf-8-sig", newline="") as fileobj:
        rows = csv.reader(fileobj, delimiter=delimiter)
        header = next(row for row in rows if title in row)
        return [dict(zip(header, row, strict=False)) for row in rows if len(row) > 1]
