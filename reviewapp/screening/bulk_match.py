"""Pure parts of bulk upload: unpacking a zip safely, and matching a PDF to a record.

No Django import. Matching tries, in order of strength: a DOI or PMID printed in the PDF (its
metadata or first pages), the file name ("PMID_12345.pdf", "10.1000_xyz.pdf", "Smith 2019.pdf"),
then the similarity of the record's title to the PDF's title or first-page text (rapidfuzz). A
weaker rule is used only when the stronger ones found nothing, and a rule that points at more
than one record matches nothing (the user assigns the file by hand).
"""

from __future__ import annotations

import io
import posixpath
import re
import unicodedata
import zipfile
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from reviewapp.screening.pdfs import PDF_MAGIC, dois_in, pmids_in

MAX_MEMBERS = 500
MAX_RATIO = 100  # uncompressed / compressed; PDFs barely compress, bombs compress a thousandfold
TITLE_THRESHOLD = 90
TITLE_MARGIN = 5
TEXT_FOR_TITLE = 4000


class ZipRefused(Exception):
    """The whole archive is refused; the message names it and says why."""


@dataclass(frozen=True)
class Member:
    name: str
    content: bytes | None  # None: refused, see ``refused``
    refused: str = ""


def zip_members(data: bytes, *, zip_name: str, max_file_bytes: int, max_total_bytes: int):
    """The PDFs in a zip, each as a Member; members that are not acceptable come back refused.

    Refuses the whole archive (ZipRefused) when it is not a zip, is encrypted, has more than
    MAX_MEMBERS files, or would unpack to more than ``max_total_bytes``. The sizes in the zip's
    directory are not trusted: every member is read with a cap, so a forged header cannot make
    us inflate more than we allow.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ZipRefused(f"{zip_name}: not a readable zip file ({exc})") from None
    infos = [i for i in infos if not _is_clutter(i.filename)]
    if len(infos) > MAX_MEMBERS:
        raise ZipRefused(
            f"{zip_name}: it holds {len(infos)} files; at most {MAX_MEMBERS} are accepted at once."
        )
    declared = sum(i.file_size for i in infos)
    if declared > max_total_bytes:
        raise ZipRefused(
            f"{zip_name}: it would unpack to {declared / 1048576:.0f} MB; the limit is "
            f"{max_total_bytes / 1048576:.0f} MB."
        )
    members: list[Member] = []
    total = 0
    for info in infos:
        name = info.filename
        problem = _name_problem(name)
        if problem:
            members.append(Member(name, None, problem))
            continue
        if info.flag_bits & 0x1:
            members.append(Member(name, None, "it is encrypted inside the zip"))
            continue
        if not name.lower().endswith(".pdf"):
            members.append(Member(name, None, "it is not a PDF (only .pdf files are taken)"))
            continue
        if info.file_size > max_file_bytes:
            members.append(
                Member(
                    name,
                    None,
                    f"it is {info.file_size / 1048576:.1f} MB; the limit is "
                    f"{max_file_bytes / 1048576:.0f} MB",
                )
            )
            continue
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise ZipRefused(
                f"{zip_name}: {name} is compressed {info.file_size // info.compress_size} to 1, "
                "which a PDF never is; the archive looks like a zip bomb and was refused."
            )
        try:
            with archive.open(info) as handle:
                content = handle.read(max_file_bytes + 1)
        except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, EOFError) as exc:
            members.append(Member(name, None, f"it cannot be unpacked ({exc})"))
            continue
        total += len(content)
        if len(content) > max_file_bytes:
            members.append(Member(name, None, "it unpacks larger than its declared size"))
            continue
        if total > max_total_bytes:
            raise ZipRefused(
                f"{zip_name}: it unpacks to more than {max_total_bytes / 1048576:.0f} MB "
                "(more than its directory declares); refused."
            )
        if not content.startswith(PDF_MAGIC):
            members.append(Member(name, None, "it is not a PDF (it does not start with %PDF-)"))
            continue
        members.append(Member(name, content))
    return members


def _is_clutter(name: str) -> bool:
    base = posixpath.basename(name.rstrip("/"))
    return name.startswith("__MACOSX/") or base.startswith(".") or base in ("Thumbs.db",)


def _name_problem(name: str) -> str:
    normal = name.replace("\\", "/")
    if normal.startswith("/") or re.match(r"^[A-Za-z]:", normal):
        return "its path is absolute; refused (a zip must not write outside its folder)"
    if ".." in normal.split("/"):
        return "its path climbs out of the archive (..); refused"
    if any(ord(c) < 32 for c in name):
        return "its name holds control characters; refused"
    return ""


# --- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A record a file may belong to."""

    id: int
    label: str
    doi: str
    pmid: str
    title: str
    surname: str
    year: int | None


@dataclass(frozen=True)
class Match:
    record_id: int | None
    method: str  # "doi", "pmid", "filename", "title" or "" (unmatched)
    evidence: str


def normal_doi(value: str) -> str:
    value = value.strip().lower()
    value = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", value)
    return value


def _key(value: str) -> str:
    """Letters and digits only, lower case: how a DOI survives being made a file name."""
    return re.sub(r"[^a-z0-9]", "", value.lower())


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


class Matcher:
    """Matches files to a fixed set of candidates; built once per batch."""

    def __init__(self, candidates: list[Candidate]):
        self.candidates = candidates
        self.by_doi: dict[str, list[Candidate]] = {}
        self.by_doi_key: dict[str, list[Candidate]] = {}
        self.by_pmid: dict[str, list[Candidate]] = {}
        for c in candidates:
            if c.doi:
                self.by_doi.setdefault(normal_doi(c.doi), []).append(c)
                self.by_doi_key.setdefault(_key(normal_doi(c.doi)), []).append(c)
            if c.pmid:
                self.by_pmid.setdefault(c.pmid.strip(), []).append(c)
        folded = [(c, _fold(c.title)) for c in candidates if c.title]
        # A very short title matches too much.
        self.long_candidates = [c for c, title in folded if len(title) >= 20]
        self.long_titles = [title for c, title in folded if len(title) >= 20]

    def match(self, *, name: str, title: str, text: str) -> Match:
        for doi in dois_in(text):
            found = self.by_doi.get(normal_doi(doi), [])
            if len(found) == 1:
                return Match(found[0].id, "doi", f"DOI {doi} printed in the PDF")
        for pmid in pmids_in(text):
            found = self.by_pmid.get(pmid, [])
            if len(found) == 1:
                return Match(found[0].id, "pmid", f"PMID {pmid} printed in the PDF")
        by_name = self._by_file_name(name)
        if by_name is not None:
            return by_name
        return self._by_title(title, text)

    def _by_file_name(self, name: str) -> Match | None:
        stem = posixpath.basename(name.replace("\\", "/"))
        stem = re.sub(r"\.pdf$", "", stem, flags=re.IGNORECASE)
        # "PMID_123.pdf" at any length; a bare number only when long enough to be a PMID.
        pmid = re.fullmatch(r"pmid[\s_:-]*(\d{1,9})|(\d{5,9})", stem, flags=re.IGNORECASE)
        if pmid:
            number = pmid.group(1) or pmid.group(2)
            found = self.by_pmid.get(number, [])
            if len(found) == 1:
                return Match(found[0].id, "filename", f"PMID {number} in the file name")
        if stem.lower().startswith("10.") or stem.lower().startswith("doi"):
            key = _key(re.sub(r"^doi[\s_:-]*", "", stem, flags=re.IGNORECASE))
            found = self.by_doi_key.get(key, [])
            if len(found) == 1:
                return Match(found[0].id, "filename", f"DOI {found[0].doi} in the file name")
        author_year = re.match(
            r"^\s*([^\W\d_]+(?:['-][^\W\d_]+)*)[\s_,.-]+(?:et[\s_.]+al\.?[\s_,-]*)?(\d{4})\b",
            stem,
        )
        if author_year:
            surname, year = _fold(author_year.group(1)), int(author_year.group(2))
            found = [c for c in self.candidates if c.year == year and _fold(c.surname) == surname]
            if len(found) == 1:
                return Match(
                    found[0].id,
                    "filename",
                    f"first author and year ({author_year.group(1)} {year}) in the file name",
                )
        return None

    def _by_title(self, title: str, text: str) -> Match:
        haystack = _fold((title + "\n" + text)[:TEXT_FOR_TITLE])
        if not haystack:
            return Match(None, "", "no text could be read from the PDF to compare titles")
        # Only the two best scores matter, and only from TITLE_THRESHOLD - TITLE_MARGIN up (below
        # that a runner-up cannot make the best ambiguous): rapidfuzz then skips most pairs
        # without aligning them, about twice as fast as scoring every title
        # (bench/fulltext_bench.py).
        best = process.extract(
            haystack,
            self.long_titles,
            scorer=fuzz.partial_ratio,
            limit=2,
            score_cutoff=TITLE_THRESHOLD - TITLE_MARGIN,
        )
        scored = [(score, self.long_candidates[index]) for _title, score, index in best]
        if not scored or scored[0][0] < TITLE_THRESHOLD:
            return Match(None, "", "no DOI, PMID, file name or title matched a record")
        if len(scored) > 1 and scored[0][0] - scored[1][0] < TITLE_MARGIN:
            return Match(
                None,
                "",
                f"the title is as close to record {scored[0][1].label} as to record "
                f"{scored[1][1].label}; assign it by hand",
            )
        score, candidate = scored[0]
        return Match(candidate.id, "title", f"title {score:.0f}% similar to the record's")
