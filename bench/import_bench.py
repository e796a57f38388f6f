"""Benchmark a 100,000-record import into PostgreSQL: time, memory and duplicate detection.

    .venv/bin/python bench/import_bench.py [--records 100000] [--seed 20240607] \
        [--database-url postgres://postgres@127.0.0.1:5432/reviewapp_import_bench] \
        [--out bench/out/import.md] [--keep]

What it does, in order:

1. Generates, in a temporary directory and from a fixed seed, a PubMed XML file of `--records`
   PubmedArticle elements and a RIS file (an "Embase/Scopus export"); see `generate`. Ten percent
   of `--records` are planted duplicates of other records: 80% of them inside the XML, 20% as the
   RIS file's records. Every file position is written down with the cluster (original) it
   belongs to, which is the ground truth.
2. Times the reference: a bare lxml iterparse of the same XML file over PubmedArticle, clearing
   each element (`bare_parse`), in a child process, once before and once after the import; the
   faster of the two is the reference (it makes the ratio the less flattering one).
3. Creates a fresh database (`--database-url`, dropped at the end unless `--keep`), migrates it in
   a child process, then in another child process (Django set up, DEBUG off) creates a user and a
   review and runs the real services, `import_create` then `import_run`, on the XML file and then
   on the RIS file. Wall time covers both calls per file (storing the upload included).
4. Peak memory is the RSS high-water mark of that import process (VmHWM in /proc/self/status;
   not `ru_maxrss`, which Linux carries over from the parent across fork and exec): the whole
   interpreter with Django, the database driver and the import, from process start; the RSS
   before the first import is reported too.
5. Precision and recall come from the DuplicateLink rows against the planted truth:
   - a planted duplicate counts as found when its record and its original's record are in the
     same group of linked records (linked directly or through other links, either direction);
   - precision is the share of active DuplicateLink rows whose two records belong to the same
     planted cluster. Links the matcher leaves for a person to confirm (fuzzy_title,
     needs_review) count as links: they are what the review shows as duplicates. The same
     figures restricted to the automatic rules are printed too.

Only loopback connections are made; every child process has a time limit (`--timeout`).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import pickle
import platform
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/reviewapp_import_bench"
CORPUS = [
    ROOT / "tests/fixtures/labelled/Cohen_2006_Antihistamines.csv",
    ROOT / "tests/fixtures/labelled/Cohen_2006_NSAIDS.csv",
]
TARGETS = {"ratio": 3.0, "peak_mb": 300.0, "recall": 0.98, "precision": 0.995}
# Issue 13: 300 MB at 100,000 records; a 1,000,000-record file within 1 GB.
PEAK_MB_LARGE = 1024.0
PASSWORD = "bench-password-not-secret"

# --- generation -----------------------------------------------------------------------------

SPECIALTIES = [
    "cardiology",
    "oncology",
    "neurology",
    "rheumatology",
    "gastroenterology",
    "hepatology",
    "nephrology",
    "pulmonology",
    "endocrinology",
    "dermatology",
    "psychiatry",
    "paediatrics",
    "geriatrics",
    "epidemiology",
    "public health",
    "clinical pharmacology",
    "anaesthesia",
    "surgery",
    "orthopaedics",
    "urology",
    "gynaecology",
    "obstetrics",
    "ophthalmology",
    "otolaryngology",
    "radiology",
    "nuclear medicine",
    "haematology",
    "infectious diseases",
    "immunology",
    "allergy",
    "pain medicine",
    "sports medicine",
    "rehabilitation",
    "nursing",
    "emergency medicine",
    "critical care",
    "primary care",
    "nutrition",
    "sleep medicine",
    "addiction medicine",
    "occupational medicine",
    "tropical medicine",
    "clinical trials",
]
JOURNAL_PATTERNS = [
    ("Journal of {s}", "J {a}"),
    ("International journal of {s}", "Int J {a}"),
    ("European journal of {s}", "Eur J {a}"),
    ("American journal of {s}", "Am J {a}"),
    ("Annals of {s}", "Ann {a}"),
    ("{S} research", "{A} Res"),
    ("Clinical {s}", "Clin {a}"),
    ("{S} reviews", "{A} Rev"),
]
PUBLISHERS = [
    "10.1016",
    "10.1002",
    "10.1136",
    "10.1007",
    "10.1097",
    "10.1111",
    "10.3390",
    "10.1186",
    "10.1371",
    "10.1001",
    "10.1093",
    "10.1177",
    "10.1080",
    "10.1055",
]
ABSTRACT_LABELS = [
    [
        ("BACKGROUND", "BACKGROUND"),
        ("METHODS", "METHODS"),
        ("RESULTS", "RESULTS"),
        ("CONCLUSIONS", "CONCLUSIONS"),
    ],
    [
        ("OBJECTIVE", "OBJECTIVE"),
        ("DESIGN", "METHODS"),
        ("SETTING", "METHODS"),
        ("PARTICIPANTS", "METHODS"),
        ("MAIN OUTCOME MEASURES", "METHODS"),
        ("RESULTS", "RESULTS"),
        ("CONCLUSION", "CONCLUSIONS"),
    ],
    [("AIMS", "OBJECTIVE"), ("METHODS AND RESULTS", "RESULTS"), ("CONCLUSIONS", "CONCLUSIONS")],
]
SUBTITLES = [
    "a randomized controlled trial",
    "a systematic review and meta-analysis",
    "a prospective cohort study",
    "a retrospective cohort study",
    "a case-control study",
    "a cross-sectional study",
    "results of a multicentre trial",
    "a pilot study",
    "a population-based study",
    "a narrative review",
    "a double-blind placebo-controlled trial",
]
GENERIC_TITLES = [
    "Editorial.",
    "Letter to the editor.",
    "Reply.",
    "In memoriam.",
    "Introduction.",
    "Commentary.",
    "Foreword.",
    "Book review.",
    "Highlights of this issue.",
    "Erratum.",
]
PUB_TYPES = [
    "Journal Article",
    "Randomized Controlled Trial",
    "Review",
    "Comparative Study",
    "Multicenter Study",
    "Meta-Analysis",
    "Observational Study",
]
COUNTRIES = [
    "United States",
    "United Kingdom",
    "Germany",
    "France",
    "China",
    "Japan",
    "Italy",
    "Netherlands",
    "Canada",
    "Australia",
    "Spain",
    "Sweden",
    "Brazil",
    "India",
]
QUALIFIERS = [
    "therapeutic use",
    "adverse effects",
    "drug therapy",
    "epidemiology",
    "diagnosis",
    "pharmacology",
    "administration & dosage",
    "mortality",
]
# British/American spellings and abbreviations that differ between two copies of one citation.
SPELLINGS = [
    ("tumour", "tumor"),
    ("paediatric", "pediatric"),
    ("haemorrhage", "hemorrhage"),
    ("randomised", "randomized"),
    ("oesophageal", "esophageal"),
    ("anaemia", "anemia"),
    ("behaviour", "behavior"),
    ("centre", "center"),
    ("oedema", "edema"),
    ("non-steroidal", "nonsteroidal"),
    ("ischaemic", "ischemic"),
    ("versus", "vs"),
]
SYLLABLES = [
    "ka",
    "ro",
    "li",
    "an",
    "ber",
    "son",
    "man",
    "ski",
    "ez",
    "ta",
    "mo",
    "ri",
    "chen",
    "wang",
    "zhang",
    "li",
    "ng",
    "da",
    "vi",
    "el",
    "sen",
    "berg",
    "ova",
    "ic",
    "ur",
]
ACCENTED = {
    "Muller": "Müller",
    "Sanchez": "Sánchez",
    "Grosel": "Grošel",
    "Nunez": "Núñez",
    "Bjork": "Björk",
    "Lefevre": "Lefèvre",
    "Cote": "Côté",
    "Ozturk": "Öztürk",
}


@dataclass
class Corpus:
    """Words, sentences, MeSH terms and surnames from the Cohen 2006 test fixtures."""

    sentences: list[str]
    follow: dict[str, list[str]]
    starts: list[str]
    mesh: list[str]
    surnames: list[str]
    forenames: list[str] = field(default_factory=list)


def corpus_load() -> Corpus:
    titles, abstracts, mesh, surnames = [], [], set(), set()
    for path in CORPUS:
        with path.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                titles.append(row["title"].strip())
                abstracts.append(row["abstract"].strip())
                mesh.update(k.strip() for k in row["keywords"].split(";") if k.strip())
                for author in row["authors"].split(";"):
                    last = author.split(",")[0].strip()
                    if last.isalpha() and len(last) > 2:
                        surnames.add(last)
    sentences = [
        s.strip()
        for text in abstracts
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)
        if 40 <= len(s.strip()) <= 400
    ]
    # Word bigrams over titles and abstract sentences give titles that read like titles, with
    # far more variety than the 700 real ones.
    follow: dict[str, list[str]] = defaultdict(list)
    starts = []
    for text in titles + sentences:
        words = re.findall(r"[A-Za-z][A-Za-z0-9'-]*|\d+", text)
        if len(words) < 3:
            continue
        starts.append(words[0])
        for a, b in zip(words, words[1:], strict=False):
            follow[a.lower()].append(b)
    rng = random.Random(7)
    synthetic = {
        "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        for _ in range(6000)
    }
    return Corpus(
        sentences=sentences,
        follow=dict(follow),
        starts=starts,
        mesh=sorted(mesh),
        surnames=sorted(surnames | synthetic | set(ACCENTED.values())),
        forenames=[
            "Anna",
            "John",
            "Maria",
            "Wei",
            "Li",
            "Peter",
            "Sara",
            "David",
            "Yuki",
            "Ahmed",
            "Elena",
            "Carlos",
            "Ingrid",
            "Olivia",
            "Rahul",
            "Chen",
            "Ruth",
            "Tomás",
            "Jürgen",
            "Fatima",
            "Paul",
            "Grace",
            "Hiro",
            "Nadia",
            "Louis",
        ],
    )


@dataclass
class Article:
    """One generated citation, the fields both writers need."""

    pmid: str
    doi: str
    pmcid: str
    title: str
    abstract: list[tuple[str, str, str]]  # (label, category, text)
    authors: list[tuple[str, str, str]]  # (last, fore, initials)
    affiliations: list[str]
    journal: tuple[str, str, str]  # (title, iso abbreviation, issn)
    year: int
    month: str
    volume: str
    issue: str
    pages: str
    mesh: list[tuple[str, str, bool, list[str]]]  # (descriptor, ui, major, qualifiers)
    keywords: list[str]
    types: list[str]
    language: str = "eng"
    notes: str = ""


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class Generator:
    """Deterministic generator of articles, planted duplicates and hard negatives."""

    def __init__(self, seed: int, corpus: Corpus):
        self.rng = random.Random(seed)
        self.corpus = corpus
        self.used_pmids: set[str] = set()
        self.used_titles: set[str] = set()
        self.used_dois: set[str] = set()
        rng = random.Random(seed + 1)
        self.journals = []
        for s in SPECIALTIES:
            for pattern, abbr in rng.sample(JOURNAL_PATTERNS, 3):
                abbreviation = " ".join(w[:5].capitalize() for w in s.split())
                self.journals.append(
                    (
                        pattern.format(s=s, S=s.capitalize()),
                        abbr.format(a=abbreviation, A=abbreviation),
                        f"{rng.randint(1000, 9999)}-{rng.randint(100, 999)}{rng.choice('0123456789X')}",
                        rng.choice(PUBLISHERS),
                    )
                )
        self.mesh_ui = {m: f"D{rng.randint(1000, 999999):06d}" for m in corpus.mesh}

    def pmid(self) -> str:
        while True:
            value = str(self.rng.randint(1_000_000, 39_999_999))
            if value not in self.used_pmids:
                self.used_pmids.add(value)
                return value

    def sentence_title(self) -> str:
        rng, follow = self.rng, self.corpus.follow
        for _ in range(50):
            words = [rng.choice(self.corpus.starts)]
            target = rng.randint(6, 18)
            while len(words) < target:
                options = follow.get(words[-1].lower())
                if not options:
                    break
                words.append(rng.choice(options))
            if len(words) < 5:
                continue
            title = " ".join(words)
            title = title[0].upper() + title[1:]
            if rng.random() < 0.3:
                title += ": " + rng.choice(SUBTITLES)
            if rng.random() < 0.15:
                a, b = rng.choice(SPELLINGS)
                title = title.replace(" in ", f" in {rng.choice([a, b])} ", 1)
            if title.lower() not in self.used_titles:
                self.used_titles.add(title.lower())
                return title + "."
        raise RuntimeError("title generator is stuck")

    def authors(self) -> list[tuple[str, str, str]]:
        rng = self.rng
        count = min(int(rng.expovariate(1 / 5)) + 1, 25)
        people = []
        for _ in range(count):
            last = rng.choice(self.corpus.surnames)
            fore = rng.choice(self.corpus.forenames)
            middle = rng.choice(["", "", "A", "J", "M", "K"])
            initials = fore[0] + middle
            people.append((last, f"{fore} {middle}".strip(), initials))
        return people

    def doi(self, publisher: str, year: int) -> str:
        # Unique, as real DOIs are: at 1,000,000 articles the random suffixes below collided,
        # giving unrelated articles one DOI (1,396 false same-DOI candidates in the first run).
        while True:
            doi = self._doi(publisher, year)
            if doi.casefold() not in self.used_dois:
                self.used_dois.add(doi.casefold())
                return doi

    def _doi(self, publisher: str, year: int) -> str:
        rng = self.rng
        suffix = rng.choice(
            [
                f"j.{rng.choice(['jclinepi', 'ejca', 'ajog', 'jpain', 'clnu'])}.{year}."
                f"{rng.randint(1, 12):02d}.{rng.randint(1, 999):03d}",
                f"s{rng.randint(10000, 99999)}-0{rng.randint(10, 24)}-{rng.randint(1000, 9999)}-x",
                f"{rng.choice(['bmj', 'oemed', 'annrheumdis'])}-{year}-{rng.randint(100000, 999999)}",
                f"journal.pone.0{rng.randint(100000, 999999)}",
                f"(SICI)1097-0142({year % 100:02d}){rng.randint(10, 99)}:{rng.randint(1, 9)}<"
                f"{rng.randint(100, 999)}::AID-CNCR{rng.randint(1, 9)}>3.0.CO;2-{rng.randint(1, 9)}",
            ]
        )
        return f"{publisher}/{suffix}"

    def article(self, *, title: str | None = None, year: int | None = None) -> Article:
        rng = self.rng
        journal = rng.choice(self.journals)
        year = year or rng.randint(1985, 2024)
        has_abstract = rng.random() < 0.9
        sections: list[tuple[str, str, str]] = []
        if has_abstract:
            if rng.random() < 0.7:
                for label, category in rng.choice(ABSTRACT_LABELS):
                    text = " ".join(rng.sample(self.corpus.sentences, rng.randint(1, 3)))
                    sections.append((label, category, text))
            else:
                sections.append(("", "", " ".join(rng.sample(self.corpus.sentences, 6))))
        mesh = []
        for term in rng.sample(self.corpus.mesh, rng.randint(6, 16)):
            qualifiers = rng.sample(QUALIFIERS, rng.choice([0, 0, 1, 2]))
            mesh.append((term, self.mesh_ui[term], rng.random() < 0.2, qualifiers))
        start = rng.randint(1, 2000)
        has_doi = year >= 2000 or rng.random() < 0.5
        return Article(
            pmid=self.pmid(),
            doi=self.doi(journal[3], year) if has_doi else "",
            pmcid=f"PMC{rng.randint(100000, 9999999)}" if rng.random() < 0.2 else "",
            title=title or self.sentence_title(),
            abstract=sections,
            authors=self.authors(),
            affiliations=[
                f"Department of {rng.choice(SPECIALTIES).title()}, University Hospital "
                f"{rng.choice(self.corpus.surnames)}, {rng.choice(COUNTRIES)}."
                for _ in range(rng.randint(1, 3))
            ],
            journal=journal[:3],
            year=year,
            month=rng.choice(MONTHS),
            volume=str(rng.randint(1, 120)),
            issue=str(rng.randint(1, 12)),
            pages=f"{start}-{start + rng.randint(3, 15)}",
            mesh=mesh,
            keywords=rng.sample(self.corpus.mesh, rng.randint(0, 5)),
            types=["Journal Article"] + rng.sample(PUB_TYPES[1:], rng.choice([0, 0, 1])),
        )

    # --- hard negatives: similar-looking records that are not duplicates -------------------

    def negatives(self, base: Article) -> list[Article]:
        """Records that look like `base` but are other publications (never planted pairs)."""
        rng = self.rng
        kind = rng.choice(["parts", "erratum", "same_title_other_year", "protocol"])
        stem = base.title.rstrip(".")
        if kind == "parts":
            base.title = f"{stem}. Part 1."
            other = self.article(title=f"{stem}. Part 2.", year=base.year)
            other.authors = list(base.authors)
            other.journal = base.journal
            return [other]
        if kind == "erratum":
            word = rng.choice(["Erratum", "Correction", "Corrigendum"])
            other = self.article(title=f"{word}: {stem}.", year=base.year + rng.randint(0, 1))
            other.abstract, other.authors, other.journal = [], [], base.journal
            return [other]
        if kind == "same_title_other_year":
            return [self.article(title=base.title, year=base.year + rng.choice([-3, 1, 2, 5]))]
        other = self.article(
            title=f"{stem}: study protocol for a randomised trial.", year=base.year - 2
        )
        other.authors = list(base.authors)
        return [other]

    # --- planted duplicates -------------------------------------------------------------------

    def vary_title(self, title: str) -> tuple[str, list[str]]:
        rng = self.rng
        changes = []
        if rng.random() < 0.5:
            choice = rng.choice(["upper", "lower", "title"])
            title = {"upper": title.upper(), "lower": title.lower(), "title": title.title()}[choice]
            changes.append(f"case:{choice}")
        if rng.random() < 0.6:
            options = [
                lambda t: t.rstrip("."),
                lambda t: t.replace(": ", " - ", 1),
                lambda t: t.replace("-", " "),
                lambda t: t.replace(",", ""),
                lambda t: f"[{t.rstrip('.')}].",
                lambda t: t.replace(" ", "  ", 2),
            ]
            for change in rng.sample(options, rng.randint(1, 2)):
                title = change(title)
            changes.append("punctuation")
        if rng.random() < 0.1:
            for a, b in SPELLINGS:
                if a in title.lower() or b in title.lower():
                    title = (
                        re.sub(a, b, title, flags=re.I)
                        if a in title.lower()
                        else re.sub(b, a, title, flags=re.I)
                    )
                    changes.append("spelling")
                    break
        return title, changes

    def vary_doi(self, doi: str) -> tuple[str, str]:
        rng = self.rng
        kind = rng.choice(["upper", "https", "dx", "doi:", "upper+https"])
        if "upper" in kind:
            doi = doi.upper()
        if "https" in kind:
            doi = "https://doi.org/" + doi
        elif kind == "dx":
            doi = "http://dx.doi.org/" + doi
        elif kind == "doi:":
            doi = "doi:" + doi
        return doi, kind

    def duplicate(self, original: Article) -> tuple[Article, list[str]]:
        """A second copy of `original` as a converted or re-exported record would carry it."""
        rng = self.rng
        copy = Article(**{**original.__dict__})
        tags = []
        roll = rng.random()
        if roll < 0.10:
            tags.append("same_pmid")
        elif roll < 0.18 and original.doi and original.pmid:
            # PubMed's second record of one article: the same DOI under another PMID. It must be
            # offered to a reviewer (needs_review), never linked automatically.
            copy.pmid = self.pmid()
            tags.append("doi_other_pmid")
        else:
            copy.pmid = ""
            if not original.doi or roll < 0.45:
                copy.doi = ""
                tags.append("missing_doi")
            elif roll < 0.80:
                copy.doi, kind = self.vary_doi(original.doi)
                tags.append(f"doi:{kind}")
            else:
                tags.append("same_doi")
        copy.title, changes = self.vary_title(original.title)
        tags += changes
        if rng.random() < 0.08:
            # Print year against e-publication year.
            copy.year = original.year + rng.choice([-1, 1])
            tags.append("year±1")
        if rng.random() < 0.2:
            copy.authors = [(last, fore, fore[0]) for last, fore, _ in original.authors]
            tags.append("authors")
        if rng.random() < 0.3:
            copy.journal = (original.journal[1], original.journal[1], original.journal[2])
        copy.notes = ",".join(tags)
        return copy, tags


def pubmed_xml(article: Article) -> str:
    """One PubmedArticle element, laid out as NCBI's efetch lays it out."""
    e = escape
    a = article
    authors = "".join(
        f"""
                    <Author ValidYN="Y">
                        <LastName>{e(last)}</LastName>
                        <ForeName>{e(fore)}</ForeName>
                        <Initials>{e(initials)}</Initials>
                        <AffiliationInfo>
                            <Affiliation>{e(a.affiliations[i % len(a.affiliations)])}</Affiliation>
                        </AffiliationInfo>
                    </Author>"""
        for i, (last, fore, initials) in enumerate(a.authors)
    )
    abstract = ""
    if a.abstract:
        parts = "".join(
            f'\n                    <AbstractText Label="{e(label)}" NlmCategory="{cat}">'
            f"{e(text)}</AbstractText>"
            if label
            else f"\n                    <AbstractText>{e(text)}</AbstractText>"
            for label, cat, text in a.abstract
        )
        abstract = f"\n                <Abstract>{parts}\n                </Abstract>"
    mesh = "".join(
        f'\n                <MeshHeading>\n                    <DescriptorName UI="{ui}" '
        f'MajorTopicYN="{"Y" if major else "N"}">{e(term)}</DescriptorName>'
        + "".join(
            f'\n                    <QualifierName UI="Q{zlib.crc32(q.encode()) % 1000000:06d}" '
            f'MajorTopicYN="N">{e(q)}</QualifierName>'
            for q in quals
        )
        + "\n                </MeshHeading>"
        for term, ui, major, quals in a.mesh
    )
    keywords = ""
    if a.keywords:
        keywords = (
            '\n            <KeywordList Owner="NOTNLM">'
            + "".join(
                f'\n                <Keyword MajorTopicYN="N">{e(k)}</Keyword>' for k in a.keywords
            )
            + "\n            </KeywordList>"
        )
    types = "".join(
        f'\n                    <PublicationType UI="D016428">{e(t)}</PublicationType>'
        for t in a.types
    )
    ids = ""
    if a.pmid:
        ids += f'\n                <ArticleId IdType="pubmed">{a.pmid}</ArticleId>'
    if a.doi:
        ids += f'\n                <ArticleId IdType="doi">{e(a.doi)}</ArticleId>'
    if a.pmcid:
        ids += f'\n                <ArticleId IdType="pmc">{a.pmcid}</ArticleId>'
    elocation = (
        f'\n            <ELocationID EIdType="doi" ValidYN="Y">{e(a.doi)}</ELocationID>'
        if a.doi and not a.doi.startswith(("http", "doi:"))
        else ""
    )
    pmid = f'\n        <PMID Version="1">{a.pmid}</PMID>' if a.pmid else ""
    month = MONTHS.index(a.month) + 1
    return f"""<PubmedArticle>
    <MedlineCitation Status="MEDLINE" Owner="NLM">{pmid}
        <DateCompleted>
            <Year>{a.year}</Year>
            <Month>{month:02d}</Month>
            <Day>15</Day>
        </DateCompleted>
        <Article PubModel="Print-Electronic">
            <Journal>
                <ISSN IssnType="Electronic">{a.journal[2]}</ISSN>
                <JournalIssue CitedMedium="Internet">
                    <Volume>{a.volume}</Volume>
                    <Issue>{a.issue}</Issue>
                    <PubDate>
                        <Year>{a.year}</Year>
                        <Month>{a.month}</Month>
                    </PubDate>
                </JournalIssue>
                <Title>{e(a.journal[0])}</Title>
                <ISOAbbreviation>{e(a.journal[1])}</ISOAbbreviation>
            </Journal>
            <ArticleTitle>{e(a.title)}</ArticleTitle>
            <Pagination>
                <MedlinePgn>{a.pages}</MedlinePgn>
            </Pagination>{elocation}{abstract}
            <AuthorList CompleteYN="Y">{authors}
            </AuthorList>
            <Language>{a.language}</Language>
            <PublicationTypeList>{types}
            </PublicationTypeList>
        </Article>
        <MedlineJournalInfo>
            <Country>{COUNTRIES[len(a.journal[0]) % len(COUNTRIES)]}</Country>
            <MedlineTA>{e(a.journal[1])}</MedlineTA>
            <ISSNLinking>{a.journal[2]}</ISSNLinking>
        </MedlineJournalInfo>
        <CitationSubset>IM</CitationSubset>
        <MeshHeadingList>{mesh}
        </MeshHeadingList>{keywords}
    </MedlineCitation>
    <PubmedData>
        <History>
            <PubMedPubDate PubStatus="received">
                <Year>{a.year - 1}</Year>
                <Month>{month}</Month>
                <Day>2</Day>
            </PubMedPubDate>
            <PubMedPubDate PubStatus="pubmed">
                <Year>{a.year}</Year>
                <Month>{month}</Month>
                <Day>20</Day>
            </PubMedPubDate>
        </History>
        <PublicationStatus>ppublish</PublicationStatus>
        <ArticleIdList>{ids}
        </ArticleIdList>
    </PubmedData>
</PubmedArticle>
"""


def ris_record(article: Article, rng: random.Random) -> str:
    """One record as Embase or Scopus export it to RIS."""
    a = article
    source = rng.choice(["Embase", "Scopus"])
    lines = ["TY  - JOUR", f"TI  - {a.title.rstrip('.')}"]
    if source == "Embase":
        lines += [f"A1  - {last} {'.'.join(initials)}." for last, _fore, initials in a.authors]
    else:
        lines += [f"AU  - {last}, {'. '.join(initials)}." for last, _fore, initials in a.authors]
    lines += [
        f"PY  - {a.year}",
        f"T2  - {a.journal[0]}",
        f"J2  - {a.journal[1]}",
        f"VL  - {a.volume}",
        f"IS  - {a.issue}",
    ]
    start, _, end = a.pages.partition("-")
    lines += [f"SP  - {start}", f"EP  - {end}"]
    if a.doi:
        lines.append(f"DO  - {a.doi}")
    if a.abstract:
        text = " ".join(f"{label}: {t}" if label else t for label, _c, t in a.abstract)
        lines.append(f"AB  - {text} © {a.year} The Authors")
    lines += [f"KW  - {k}" for k in a.keywords + [m[0] for m in a.mesh[:5]]]
    lines += [f"DB  - {source}", f"SN  - {a.journal[2]}", "LA  - English", "M3  - Article"]
    if source == "Embase":
        lines.append(f"U2  - L{rng.randint(600000000, 699999999)}")
        if a.pmid:
            lines.append(f"C5  - {a.pmid}")
    elif a.pmid:
        lines.append(f"C2  - {a.pmid}")
    lines.append("ER  - ")
    return "\n".join(lines) + "\n\n"


@dataclass
class Generated:
    xml_path: Path
    ris_path: Path
    xml_truth: list[int]  # cluster per XML position (1-based; index 0 unused)
    ris_truth: list[int]
    xml_tags: dict[int, str]  # planted duplicates' variations, by XML position
    ris_tags: dict[int, str]
    planted_xml: int
    planted_ris: int
    negatives: int


def xml_items(gen: Generator, *, records: int, planted_xml: int):
    """The XML file's articles in file order, before any is written: (originals, items,
    look-alikes), items being (cluster, article, tags) with cluster the original's index."""
    rng = gen.rng
    originals_n = records - planted_xml
    originals: list[Article] = []
    negatives = 0
    while len(originals) < originals_n:
        roll = rng.random()
        if roll < 0.01:
            originals.append(gen.article(title=rng.choice(GENERIC_TITLES)))
            negatives += 1
            continue
        base = gen.article()
        originals.append(base)
        if roll < 0.04 and len(originals) < originals_n - 1:
            for other in gen.negatives(base):
                if len(originals) < originals_n:
                    originals.append(other)
                    negatives += 1
    # Items: (cluster, article, tags). Originals are cluster = their own index.
    items: list[tuple[int, Article, str]] = [(i, a, "") for i, a in enumerate(originals)]
    for _ in range(planted_xml):
        cluster = rng.randrange(originals_n)
        copy, tags = gen.duplicate(originals[cluster])
        items.append((cluster, copy, ",".join(tags)))
    rng.shuffle(items)
    return originals, items, negatives


def generate(directory: Path, *, records: int, seed: int, dup_rate: float, ris_share: float):
    """Write the XML and RIS files and return them with the truth (cluster per position)."""
    gen = Generator(seed, corpus_load())
    rng = gen.rng
    planted = round(records * dup_rate)
    planted_ris = round(planted * ris_share)
    planted_xml = planted - planted_ris
    originals, items, negatives = xml_items(gen, records=records, planted_xml=planted_xml)
    originals_n = len(originals)
    xml_path = directory / "bench_pubmed.xml"
    xml_truth, xml_tags = [-1], {}
    with xml_path.open("w", encoding="utf-8") as fh:
        fh.write(
            '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle,'
            ' 1st January 2024//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">'
            "\n<PubmedArticleSet>\n"
        )
        for position, (cluster, article, tags) in enumerate(items, start=1):
            fh.write(pubmed_xml(article))
            xml_truth.append(cluster)
            if tags:
                xml_tags[position] = tags
        fh.write("</PubmedArticleSet>\n")
    ris_path = directory / "bench_embase_scopus.ris"
    ris_truth, ris_tags = [-1], {}
    with ris_path.open("w", encoding="utf-8") as fh:
        for position in range(1, planted_ris + 1):
            cluster = rng.randrange(originals_n)
            original = originals[cluster]
            copy = Article(**{**original.__dict__})
            tags = ["ris"]
            if rng.random() < 0.7:
                copy.pmid = ""
            else:
                tags.append("ris_pmid")
            if copy.doi:
                if rng.random() < 0.3:
                    copy.doi = ""
                    tags.append("missing_doi")
                elif rng.random() < 0.4:
                    copy.doi, kind = gen.vary_doi(copy.doi)
                    tags.append(f"doi:{kind}")
            if rng.random() < 0.4:
                copy.title, changes = gen.vary_title(copy.title)
                tags += changes
            fh.write(ris_record(copy, rng))
            ris_truth.append(cluster)
            ris_tags[position] = ",".join(tags)
    return Generated(
        xml_path=xml_path,
        ris_path=ris_path,
        xml_truth=xml_truth,
        ris_truth=ris_truth,
        xml_tags=xml_tags,
        ris_tags=ris_tags,
        planted_xml=planted_xml,
        planted_ris=planted_ris,
        negatives=negatives,
    )


# --- child processes --------------------------------------------------------------------------


def bare_parse(path: str) -> dict:
    """The reference: iterparse over PubmedArticle, clearing each element, nothing else."""
    from lxml import etree

    start, cpu = time.perf_counter(), time.process_time()
    count = 0
    for _event, element in etree.iterparse(path, events=("end",), tag="PubmedArticle"):
        count += 1
        element.clear(keep_tail=False)
        while element.getprevious() is not None:
            del element.getparent()[0]
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "records": count,
        "peak_mb": _maxrss_mb(),
    }


def _children_cpu() -> float:
    """CPU seconds of this process's ended children (user and system)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _maxrss_mb() -> float:
    """This process's RSS high-water mark (VmHWM), in MB.

    Not getrusage's ru_maxrss: Linux carries the parent's high-water mark into a child across
    fork and exec, so a child started by this script would report the generator's memory.
    """
    return _status_mb("VmHWM:")


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb() -> float:
    return _status_mb("VmRSS:")


def _backend_cpu(pid: int) -> float:
    """CPU seconds used so far by the PostgreSQL backend `pid` (same machine: loopback)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


WARM_UP_FILE = ROOT / "tests/fixtures/ris/_baseline.ris"


def _django():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    import django

    django.setup()


def run_setup() -> dict:
    """Create the bench's users, the review the files go into, and a small warm-up review (the
    test fixture's records) whose screening page warms gunicorn's workers before the import."""
    _django()
    from django.contrib.auth import get_user_model

    from reviewapp.literature.services import import_create, import_run
    from reviewapp.reviews.models import Membership
    from reviewapp.reviews.services import review_create

    tag = secrets.token_hex(4)
    user = get_user_model().objects.create_user(
        username=f"import-bench-{tag}", email="bench@example.org", password=PASSWORD
    )
    reviewer = get_user_model().objects.create_user(
        username=f"import-bench-r-{tag}", password=PASSWORD
    )
    reviews = {}
    for name in ("import", "warm-up"):
        review = review_create(title=f"Import benchmark {name}", slug=f"{name}-{tag}", owner=user)
        Membership.objects.create(review=review, user=reviewer, role="reviewer")
        reviews[name] = review
    owner = Membership.objects.get(review=reviews["warm-up"], user=user)
    with WARM_UP_FILE.open("rb") as fileobj:
        imp = import_create(membership=owner, fileobj=fileobj, file_name=WARM_UP_FILE.name)
    import_run(import_id=imp.pk)
    return {
        "owner": user.username,
        "reviewer": reviewer.username,
        "review_id": reviews["import"].pk,
        "review_slug": reviews["import"].slug,
        "warm_up_slug": reviews["warm-up"].slug,
    }


def _spooled_upload(path: str):
    """The file as Django's upload handler leaves a large upload: a TemporaryUploadedFile in
    FILE_UPLOAD_TEMP_DIR (the system's temporary folder, where MEDIA_ROOT is here too)."""
    from django.core.files.uploadedfile import TemporaryUploadedFile

    size = os.path.getsize(path)
    upload = TemporaryUploadedFile(Path(path).name, "application/octet-stream", size, None)
    with open(path, "rb") as source:
        offset = 0
        while copied := os.copy_file_range(source.fileno(), upload.fileno(), 1 << 30, offset):
            offset += copied
    upload.seek(0)
    return upload


def run_import(xml_path: str, ris_path: str, review_id: str) -> dict:
    """Import both files into the review through the real services."""
    _django()
    from reviewapp.literature.services import import_create, import_run
    from reviewapp.reviews.models import Membership

    membership = Membership.objects.select_related("review").get(
        review_id=int(review_id), role="owner"
    )
    review = membership.review
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    result = {"rss_before_mb": _rss_mb(), "maxrss_before_mb": _maxrss_mb(), "files": []}
    for path, source in ((xml_path, "PubMed"), (ris_path, "Embase")):
        # What the import view is given for a browser's upload of this file: Django's upload
        # handler has spooled the request body to a temporary file while it arrived (part of
        # the transfer, before the view runs, so not timed here); import_create then moves it
        # into MEDIA_ROOT (reviewapp.core.uploads).
        spool_start = time.perf_counter()
        upload = _spooled_upload(path)
        spooled = time.perf_counter() - spool_start
        cpu, db_cpu = time.process_time(), _backend_cpu(backend)
        children_cpu = _children_cpu()
        start = time.perf_counter()
        with upload:
            imp = import_create(
                membership=membership,
                fileobj=upload,
                file_name=Path(path).name,
                source_database=source,
            )
        stored = time.perf_counter()
        imp = import_run(import_id=imp.pk)
        end = time.perf_counter()
        result["files"].append(
            {
                "file": Path(path).name,
                "import_id": imp.pk,
                "status": imp.status,
                "error": imp.error,
                "format": imp.format,
                "read": imp.count_read,
                "imported": imp.count_imported,
                "duplicates": imp.count_duplicates,
                "rejected": imp.count_rejected,
                "spool_seconds": spooled,
                "store_seconds": stored - start,
                "seconds": end - start,
                "cpu_seconds": time.process_time() - cpu,
                # The parser process a large file is read in (reviewapp.literature.parseproc).
                "children_cpu_seconds": _children_cpu() - children_cpu,
                "db_cpu_seconds": _backend_cpu(backend) - db_cpu,
                "maxrss_mb": _maxrss_mb(),
            }
        )
    result["review_id"] = review.pk
    result["peak_mb"] = _maxrss_mb()
    from reviewapp.literature.models import Record
    from reviewapp.screening.models import RecordStageState

    # Before any screening request: every record's screening row was built by the import.
    result["records"] = Record.objects.filter(review=review).count()
    result["state_rows"] = RecordStageState.objects.filter(review=review, stage="ta").count()
    return result


def _child(mode: str, args: list[str], env: dict, timeout: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the first screening request, through gunicorn --------------------------------------------


def _http(port: int, cookies: dict, method: str, path: str, body: dict | None = None):
    import http.client
    from urllib.parse import urlencode

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
    data = None
    if body is not None:
        data = urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Referer"] = f"http://127.0.0.1:{port}{path}"
    start = time.perf_counter()
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    elapsed = (time.perf_counter() - start) * 1000
    for value in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = value.partition("=")
        cookies[name.strip()] = rest.split(";", 1)[0]
    connection.close()
    return response.status, payload, elapsed


class Web:
    """gunicorn with reviewapp/gunicorn_conf.py on the bench database, and one reviewer's session
    (a context manager: gunicorn is stopped on leaving)."""

    def __init__(self, env: dict, workdir: Path, redis_url: str = ""):
        self.env = {
            **env,
            "STATIC_ROOT": str(workdir / "static"),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SECURE_HSTS_SECONDS": "0",
        }
        if redis_url:
            # As in production: sessions and the cache in Redis.
            self.env["REDIS_URL"] = redis_url
        self.workdir = workdir
        self.cookies: dict = {}

    def __enter__(self) -> Web:
        import socket

        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.log = (self.workdir / "gunicorn.log").open("w")
        self.server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--config",
                "python:reviewapp.gunicorn_conf",
                "reviewapp.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(150):
            try:
                if _http(self.port, {}, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        os.killpg(self.server.pid, signal.SIGTERM)
        try:
            self.server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
        self.log.close()

    def login(self, username: str) -> None:
        _http(self.port, self.cookies, "GET", "/accounts/login/")
        status, _, _ = _http(
            self.port,
            self.cookies,
            "POST",
            "/accounts/login/",
            {
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.cookies["csrftoken"],
            },
        )
        assert status == 302, f"login answered {status}"

    def screening(self, slug: str) -> dict:
        """One request for the title/abstract screening page of the review."""
        status, payload, elapsed = _http(
            self.port, self.cookies, "GET", f"/reviews/{slug}/screen/ta/"
        )
        return {"status": status, "ms": elapsed, "record_shown": b"data-record-id" in payload}


def table_statistics(url: str) -> dict:
    """last_analyze and n_mod_since_analyze of the tables an import writes."""
    import psycopg2

    connection = psycopg2.connect(url)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, last_analyze, n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables "
            "WHERE relname IN ('literature_record', 'literature_duplicatelink', "
            "'screening_recordstagestate') ORDER BY relname"
        )
        rows = {
            name: {"last_analyze": str(last), "n_mod_since_analyze": mod, "n_live_tup": live}
            for name, last, mod, live in cursor.fetchall()
        }
        cursor.execute("SELECT count(*), count(DISTINCT review_id) FROM literature_record")
        records, reviews = cursor.fetchone()
    connection.close()
    return {"tables": rows, "db_records": records, "db_reviews": reviews}


# --- database ------------------------------------------------------------------------------


def _admin_connection(url: str):
    import psycopg2

    parts = urlsplit(url)
    if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"{url}: the benchmark only talks to a database on loopback")
    admin = urlunsplit(parts._replace(path="/postgres"))
    connection = psycopg2.connect(admin)
    connection.autocommit = True
    return connection, parts.path.lstrip("/")


def database_create(url: str) -> None:
    connection, name = _admin_connection(url)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or "bench" not in name:
        raise SystemExit(f"refusing to drop and create {name!r}: its name must contain 'bench'")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()


def database_drop(url: str) -> None:
    connection, name = _admin_connection(url)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    connection.close()


def links_read(url: str, review_id: int) -> tuple[dict, list[tuple], dict]:
    """(record id -> (import id, position)) and the active links (duplicate, primary, rule, status)."""
    import psycopg2

    connection = psycopg2.connect(url)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, source_import_id, source_position FROM literature_record "
            "WHERE review_id = %s",
            [review_id],
        )
        records = {rid: (imp, pos) for rid, imp, pos in cursor.fetchall()}
        cursor.execute(
            "SELECT duplicate_id, primary_id, rule, status FROM literature_duplicatelink "
            "WHERE review_id = %s AND undone_at IS NULL",
            [review_id],
        )
        links = cursor.fetchall()
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('literature_record')), "
            "avg(pg_column_size(raw)) FROM literature_record"
        )
        size, raw = cursor.fetchone()
    connection.close()
    return records, links, {"table": size, "raw_avg_bytes": float(raw or 0)}


# --- scoring -------------------------------------------------------------------------------


class _Groups:
    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def score(gen: Generated, records: dict, links: list[tuple], imports: dict) -> dict:
    """Recall over planted duplicates and precision over links (see the module docstring)."""
    xml_id = imports["xml"]
    cluster_of: dict[int, int] = {}
    by_place: dict[tuple[str, int], int] = {}
    for rid, (imp, pos) in records.items():
        kind = "xml" if imp == xml_id else "ris"
        truth = gen.xml_truth if kind == "xml" else gen.ris_truth
        cluster_of[rid] = truth[pos]
        by_place[(kind, pos)] = rid
    original_record: dict[int, int] = {}
    for position in range(1, len(gen.xml_truth)):
        if position not in gen.xml_tags:
            original_record[gen.xml_truth[position]] = by_place[("xml", position)]

    def evaluate(selected: list[tuple]) -> dict:
        groups = _Groups()
        for duplicate, primary, *_ in selected:
            groups.join(duplicate, primary)
        found = missed = 0
        missed_by_tag: Counter = Counter()
        planted_by_tag: Counter = Counter()
        missed_examples = []
        for kind, tags_by_pos in (("xml", gen.xml_tags), ("ris", gen.ris_tags)):
            for position, tags in tags_by_pos.items():
                rid = by_place[(kind, position)]
                original = original_record[cluster_of[rid]]
                for tag in tags.split(","):
                    planted_by_tag[tag.split(":")[0]] += 1
                if groups.find(rid) == groups.find(original):
                    found += 1
                else:
                    missed += 1
                    for tag in tags.split(","):
                        missed_by_tag[tag.split(":")[0]] += 1
                    if len(missed_examples) < 12:
                        missed_examples.append((kind, position, tags))
        true_links = sum(1 for d, p, *_ in selected if cluster_of[d] == cluster_of[p])
        false = [(d, p, r) for d, p, r, *_ in selected if cluster_of[d] != cluster_of[p]]
        return {
            "planted": found + missed,
            "found": found,
            "recall": found / max(1, found + missed),
            "links": len(selected),
            "true_links": true_links,
            "false_links": len(false),
            "precision": true_links / len(selected) if selected else 1.0,
            "false_by_rule": dict(Counter(r for _d, _p, r in false)),
            "missed_by_variation": dict(missed_by_tag.most_common()),
            "planted_by_variation": dict(planted_by_tag.most_common()),
            "missed_examples": missed_examples,
            "false_examples": [(records[d], records[p], r) for d, p, r in false[:12]],
        }

    result = evaluate(links)
    result["by_rule"] = dict(Counter(rule for _d, _p, rule, _s in links))
    result["kinds"] = score_kinds(gen, by_place, original_record, cluster_of, links)
    result["automatic"] = evaluate([link for link in links if link[3] == "automatic"])
    return result


def kind_of(source: str, tags: str) -> str:
    """The kind of a planted duplicate, as the issue names them."""
    parts = tags.split(",")
    if source == "ris":
        return (
            "cross-database copy with PMID"
            if "ris_pmid" in parts
            else ("cross-database copy without PMID")
        )
    if "same_pmid" in parts:
        return "same PMID"
    if "doi_other_pmid" in parts:
        return "same DOI, different PMID"
    return "PubMed copy without PMID"


def score_kinds(gen, by_place, original_record, cluster_of, links) -> dict:
    """Recall and precision for each kind of planted duplicate.

    Recall: planted duplicates of the kind found (in one linked group with their original).
    Precision: of the active links touching a planted record of the kind, the share joining two
    records of one planted cluster. For "same DOI, different PMID" the links found must await a
    reviewer: `automatic` counts those that were linked automatically instead (target 0).
    """
    groups = _Groups()
    for duplicate, primary, *_ in links:
        groups.join(duplicate, primary)
    kind_of_record: dict[int, str] = {}
    found: Counter = Counter()
    planted: Counter = Counter()
    for source, tags_by_pos in (("xml", gen.xml_tags), ("ris", gen.ris_tags)):
        for position, tags in tags_by_pos.items():
            rid = by_place[(source, position)]
            kind = kind_of(source, tags)
            kind_of_record[rid] = kind
            planted[kind] += 1
            if groups.find(rid) == groups.find(original_record[cluster_of[rid]]):
                found[kind] += 1
    touching: Counter = Counter()
    true: Counter = Counter()
    automatic: Counter = Counter()
    rules: dict[str, Counter] = defaultdict(Counter)
    for duplicate, primary, rule, status in links:
        kinds = {kind_of_record.get(duplicate), kind_of_record.get(primary)} - {None}
        for kind in kinds:
            touching[kind] += 1
            rules[kind][f"{rule}/{status}"] += 1
            if cluster_of[duplicate] == cluster_of[primary]:
                true[kind] += 1
            if status == "automatic":
                automatic[kind] += 1
    return {
        kind: {
            "planted": planted[kind],
            "found": found[kind],
            "recall": found[kind] / planted[kind],
            "links": touching[kind],
            "precision": true[kind] / touching[kind] if touching[kind] else 1.0,
            "automatic": automatic[kind],
            "rules": dict(rules[kind].most_common()),
        }
        for kind in sorted(planted)
    }


# --- report --------------------------------------------------------------------------------


def machine() -> dict:
    model = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        total_kb = int(fh.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": model or platform.processor(),
        "ram_gb": round(total_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
    }


def postgres_version(url: str) -> str:
    import psycopg2

    connection = psycopg2.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    connection.close()
    return version


def _met(ok: bool) -> str:
    return "met" if ok else "**NOT MET**"


def report(r: dict) -> str:
    xml, ris = r["import"]["files"]
    q, qa = r["quality"], r["quality"]["automatic"]
    m = r["machine"]
    ratio = r["ratio"]
    peak_target = TARGETS["peak_mb"] if r["records"] <= 100_000 else PEAK_MB_LARGE
    before = r["database_before"]
    database = (
        f"a clone of the realistic benchmark database (`{r['template']}`, {r['clone']} "
        f"statistics: {before['db_records']:,} records in {before['db_reviews']} reviews before "
        "the import; the import goes into a new review of it)"
        if r["clone"]
        else "an empty database"
    )
    lines = [
        f"## Import benchmark ({r['date']}, {r['records']:,} records, into {database})",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gb']} GB RAM; Python {m['python']}, "
        f"PostgreSQL {r['postgres']} on loopback. Command: `{r['command']}`. Load average "
        f"(1 min) at the start and end of the run: {r['load'][0]:.2f}, {r['load'][1]:.2f} (the machine "
        "is shared; other work running at the same time slows both the import and the "
        "reference).",
        "",
        f"Data (seed {r['seed']}): `{Path(r['xml_file']).name}`, {xml['read']:,} PubmedArticle "
        f"records, {r['xml_mb']:.0f} MB; `{Path(r['ris_file']).name}`, {ris['read']:,} RIS "
        f"records, {r['ris_mb']:.1f} MB. Planted duplicates: {r['planted_xml']:,} in the XML and "
        f"{r['planted_ris']:,} in the RIS file ({r['planted_xml'] + r['planted_ris']:,} = "
        f"{(r['planted_xml'] + r['planted_ris']) / xml['read']:.0%} of the XML's records); "
        f"{r['negatives']:,} look-alike records that are not duplicates (Part 1/Part 2, errata, "
        "same title in another year, protocol and results, generic titles such as 'Editorial').",
        "",
        "| measure | value | target | |",
        "|---|---|---|---|",
        f"| bare lxml parse of the XML (reference, best of 2) | {r['bare_seconds']:.2f} s "
        f"({r['bare_all']}) | | |",
        f"| XML import, end to end (import_create + import_run) | {xml['seconds']:.2f} s | | |",
        f"| of which import_create (stores the upload: Django's temporary file moved into "
        f"MEDIA_ROOT) | {xml['store_seconds']:.2f} s | | |",
        f"| before it, not timed: the upload spooled to a temporary file as Django's upload "
        f"handler does while the request arrives | {xml.get('spool_seconds', 0):.2f} s | | |",
        f"| ratio XML import / bare parse | {ratio:.2f} | <= {TARGETS['ratio']:.0f} | "
        f"{_met(ratio <= TARGETS['ratio'])} |",
        f"| records per second (XML) | {xml['read'] / xml['seconds']:,.0f} | | |",
        f"| CPU time: XML import process + its parser process / its PostgreSQL backend / bare "
        f"parse | {xml['cpu_seconds']:.2f} s + {xml.get('children_cpu_seconds', 0):.2f} s / "
        f"{xml['db_cpu_seconds']:.2f} s / {r['bare_cpu_seconds']:.2f} s (CPU ratio "
        f"{(xml['cpu_seconds'] + xml.get('children_cpu_seconds', 0)) / r['bare_cpu_seconds']:.2f})"
        " | | |",
        f"| RIS import, end to end | {ris['seconds']:.2f} s "
        f"({ris['read'] / ris['seconds']:,.0f} records/s) | | |",
        f"| both files | {xml['seconds'] + ris['seconds']:.2f} s | | |",
        f"| peak memory (RSS high-water, whole import process) | {r['import']['peak_mb']:.0f} MB "
        f"(after Django set-up, before the import: {r['import']['rss_before_mb']:.0f} MB) | "
        f"< {peak_target:.0f} MB | {_met(r['import']['peak_mb'] < peak_target)} |",
        f"| seconds per 1,000 records (XML import) | {1000 * xml['seconds'] / xml['read']:.3f} s "
        "| linear | |",
        f"| recall on planted duplicates | {q['recall']:.4f} ({q['found']:,}/{q['planted']:,}) | "
        f">= {TARGETS['recall']} | {_met(q['recall'] >= TARGETS['recall'])} |",
        f"| precision of duplicate links | {q['precision']:.4f} "
        f"({q['true_links']:,}/{q['links']:,}) | >= {TARGETS['precision']} | "
        f"{_met(q['precision'] >= TARGETS['precision'])} |",
        f"| automatic rules only (pmid, doi, title_year_author): recall, precision | "
        f"{qa['recall']:.4f}, {qa['precision']:.4f} | | |",
        "",
        f"Imported: {xml['imported']:,} + {ris['imported']:,} records, "
        f"{xml['duplicates']:,} + {ris['duplicates']:,} duplicate links, "
        f"{xml['rejected'] + ris['rejected']} rejected. Links by rule: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(q["by_rule"].items()))
        + f". False links by rule: {q['false_by_rule'] or 'none'}. Missed planted duplicates by "
        f"variation they carry: {q['missed_by_variation'] or 'none'} (planted: "
        f"{q['planted_by_variation']}). Record table after the import: {r['storage']['table']}, "
        f"`raw` {r['storage']['raw_avg_bytes']:.0f} bytes per record on average.",
        "",
    ]
    missed = [
        name
        for name, ok in (
            (f"ratio <= {TARGETS['ratio']:.0f} (measured {ratio:.2f})", ratio <= TARGETS["ratio"]),
            (
                f"peak memory < {peak_target:.0f} MB (measured {r['import']['peak_mb']:.0f} MB)",
                r["import"]["peak_mb"] < peak_target,
            ),
            (
                f"recall >= {TARGETS['recall']} (measured {q['recall']:.4f})",
                q["recall"] >= TARGETS["recall"],
            ),
            (
                f"precision >= {TARGETS['precision']} (measured {q['precision']:.4f})",
                q["precision"] >= TARGETS["precision"],
            ),
        )
        if not ok
    ]
    lines += [
        "Duplicates by planted kind (recall: found in one linked group with their original; "
        "precision: of the links touching a planted record of the kind, the share that are "
        "right; automatic: links made without a reviewer):",
        "",
        "| kind | planted | recall | links | precision | automatic | rules/status |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for kind, k in q["kinds"].items():
        lines.append(
            f"| {kind} | {k['planted']:,} | {k['recall']:.4f} | {k['links']:,} | "
            f"{k['precision']:.4f} | {k['automatic']:,} | "
            + ", ".join(f"{rule} {n:,}" for rule, n in k["rules"].items())
            + " |"
        )
    lines.append("")
    tables = r["statistics"]["tables"]
    lines.append(
        "Before any screening request: "
        f"{r['import']['state_rows']:,} title/abstract screening rows for "
        f"{r['import']['records']:,} records of the review (built by the import). Statistics "
        "of the written tables after the import: "
        + "; ".join(
            f"{name} analysed {t['last_analyze'][:19]}, {t['n_mod_since_analyze']:,} rows "
            "modified since"
            for name, t in tables.items()
        )
        + "."
    )
    if r["screening"]:
        first = r["screening"][0]
        rest = ", ".join(f"{t['ms']:.0f}" for t in r["screening"][1:])
        lines += [
            "",
            f"First screening request after the import, through gunicorn "
            f"(reviewapp/gunicorn_conf.py): {first['ms']:.0f} ms (HTTP {first['status']}, "
            f"record shown: {first['record_shown']}); target < 100 ms: "
            f"{_met(first['ms'] < 100 and first['status'] == 200)}. The next ones: {rest} ms.",
        ]
        if not (first["ms"] < 100 and first["status"] == 200):
            missed.append(f"first screening request < 100 ms (measured {first['ms']:.0f} ms)")
    lines.append("")
    lines.append(
        "Targets: all met." if not missed else "Targets missed: " + "; ".join(missed) + "."
    )
    lines += ["", NOTES.strip(), ""]
    return "\n".join(lines)


NOTES = """
How it is measured (bench/import_bench.py):
- Generated data: titles are word-bigram walks over the titles and abstracts of the Cohen 2006
  fixtures, abstracts are their sentences (70% structured), 1-25 authors with affiliations,
  6-16 MeSH headings with qualifiers, ~120 journals, years 1985-2024, PubmedData history and
  ArticleIdList (no reference lists). Planted XML duplicates: 10% keep the PMID; the rest have
  no PMID and either no DOI (35%), the DOI upper-cased and/or with a resolver prefix (35%) or the
  same DOI (20%); independently the title's case (50%) and punctuation (60%) change, British and
  American spellings swap (10%), the year moves by one (8%), authors lose middle initials (20%),
  the journal is abbreviated (30%). RIS copies are Embase or Scopus style records of an
  original (their author and DOI forms, a copyright line after the abstract); 30% carry the
  PMID, 30% lose the DOI, 40% change the title. Originals are picked at random, so some have
  several copies; the XML is shuffled, so a copy can come before its original.
- Recall: a planted duplicate is found when its record and its original's are in one group of
  linked records (links followed either way). Precision: share of active links whose two records
  belong to the same planted cluster. Links awaiting confirmation (fuzzy_title) count as links.
- What the import is given: the file as the import view receives a browser's upload of it, a
  Django TemporaryUploadedFile that the upload handler wrote while the request arrived (made
  before the clock starts; its time is reported). import_create moves it into MEDIA_ROOT. A
  file given by path (the import_records command) is copied instead: 1.5-3.5 s more for the
  900 MB file on the 2026-12-07 machine.
- Wall time: import_create (stores the upload under MEDIA_ROOT) plus import_run, measured around
  the service calls in a process where Django is already set up and migrations are applied.
  Progress goes to Django's local-memory cache (REDIS_URL unset); UPLOAD_MAX_MB is raised for the
  run, since the XML is larger than the default 200 MB limit.
- Peak memory: the RSS high-water mark (VmHWM) of the import process (interpreter, Django,
  psycopg2 and the import; the database server's memory is not included). Not ru_maxrss: on
  Linux a child started with fork and exec inherits its parent's high-water mark there, which
  made an earlier run report the generating parent's 581 MB.
- Reference: lxml iterparse over PubmedArticle with each element cleared and detached, in its
  own process, run before and after the import; the faster run is used.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--dup-rate", type=float, default=0.10)
    parser.add_argument("--ris-share", type=float, default=0.20)
    parser.add_argument("--seed", type=int, default=20240607)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--out", default=str(ROOT / "bench/out/import.md"))
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per child process")
    parser.add_argument("--keep", action="store_true", help="keep the database and the files")
    parser.add_argument(
        "--clone",
        choices=["fresh", "missing"],
        help="import into a clone of the realistic benchmark database (bench/benchdb.py) with "
        "fresh or missing statistics, instead of an empty database",
    )
    parser.add_argument("--template", default="reviewapp_benchdb_tpl", help="with --clone")
    parser.add_argument(
        "--screening-requests",
        type=int,
        default=5,
        help="screening page requests through gunicorn after the import",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", ""),
        help="Redis for gunicorn's sessions and cache (default: $REDIS_URL; empty: none)",
    )
    parser.add_argument(
        "--data-dir",
        help="generate the files here and keep them (with their truth), or reuse those an "
        "earlier run with the same --records, --seed and rates left there",
    )
    parser.add_argument(
        "--generate-only", action="store_true", help="with --data-dir: generate, then stop"
    )
    parser.add_argument(
        "--bare-runs",
        type=int,
        choices=[1, 2],
        default=2,
        help="bare parses: before the import only (1) or before and after it (2, the faster one "
        "is the reference)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        runs = {"bare": bare_parse, "setup": run_setup, "import": run_import}
        result = runs[mode](*rest)
        print(json.dumps(result))
        return

    command = "python bench/import_bench.py " + " ".join(sys.argv[1:])
    load_start = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="import-bench-"))
    data = Path(args.data_dir) if args.data_dir else workdir
    data.mkdir(parents=True, exist_ok=True)
    saved = data / f"truth-{args.records}-{args.seed}-{args.dup_rate}-{args.ris_share}.pickle"
    if saved.exists():
        # Files generated by an earlier --data-dir run (e.g. --generate-only outside the lock).
        gen = pickle.loads(saved.read_bytes())
        print(f"using the files generated in {data}", flush=True)
    else:
        print(f"generating {args.records:,} records in {data} ...", flush=True)
        start = time.perf_counter()
        gen = generate(
            data,
            records=args.records,
            seed=args.seed,
            dup_rate=args.dup_rate,
            ris_share=args.ris_share,
        )
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
        if args.data_dir:
            saved.write_bytes(pickle.dumps(gen))
    if args.generate_only:
        workdir.rmdir()
        return
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_DEBUG"}},
        "DATABASE_URL": args.database_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_DEBUG": "0",
        "MEDIA_ROOT": str(workdir / "media"),
        "UPLOAD_MAX_MB": "20000",
        "PYTHONPATH": str(ROOT),
    }
    try:
        bare = [_child("bare", [str(gen.xml_path)], env, args.timeout)]
        print(f"bare parse: {bare[0]['seconds']:.2f} s", flush=True)
        if args.clone:
            sys.path.insert(0, str(ROOT / "bench"))
            import benchdb

            name = urlsplit(args.database_url).path.lstrip("/")
            print(f"cloning {args.template} as {name} ({args.clone} statistics) ...", flush=True)
            benchdb.clone(name, args.clone, template=args.template, checkout=ROOT)
        else:
            database_create(args.database_url)
            subprocess.run(
                [sys.executable, str(ROOT / "manage.py"), "migrate", "--verbosity", "0"],
                env=env,
                check=True,
                timeout=args.timeout,
                cwd=ROOT,
            )
        database_before = table_statistics(args.database_url)
        setup = _child("setup", [], env, args.timeout)
        with Web(env, workdir, args.redis_url) as web:
            web.login(setup["reviewer"])
            # Every worker has served the screening page (with records) before the import, so
            # the first request after it measures the import's leftovers, not a cold worker.
            warm_up = [web.screening(setup["warm_up_slug"]) for _ in range(20)]
            print(f"warm-up: {[round(w['ms']) for w in warm_up]} ms", flush=True)
            print("importing ...", flush=True)
            imported = _child(
                "import",
                [str(gen.xml_path), str(gen.ris_path), str(setup["review_id"])],
                env,
                args.timeout,
            )
            statistics = table_statistics(args.database_url)
            screening = [
                web.screening(setup["review_slug"]) for _ in range(args.screening_requests)
            ]
        print(f"screening requests: {screening}", flush=True)
        for f in imported["files"]:
            print(
                f"  {f['file']}: {f['status']} {f['read']:,} read, {f['duplicates']:,} "
                f"duplicates in {f['seconds']:.2f} s {f['error']}",
                flush=True,
            )
        if args.bare_runs > 1:
            bare.append(_child("bare", [str(gen.xml_path)], env, args.timeout))
        records, links, storage = links_read(args.database_url, imported["review_id"])
        ids = {"xml": imported["files"][0]["import_id"], "ris": imported["files"][1]["import_id"]}
        quality = score(gen, records, links, ids)
        bare_seconds = min(b["seconds"] for b in bare)
        result = {
            "date": dt.date.today().isoformat(),
            "machine": machine(),
            "postgres": postgres_version(args.database_url),
            "command": command,
            "seed": args.seed,
            "xml_file": str(gen.xml_path),
            "ris_file": str(gen.ris_path),
            "xml_mb": gen.xml_path.stat().st_size / 1e6,
            "ris_mb": gen.ris_path.stat().st_size / 1e6,
            "planted_xml": gen.planted_xml,
            "planted_ris": gen.planted_ris,
            "negatives": gen.negatives,
            "bare_seconds": bare_seconds,
            "bare_all": ", ".join(f"{b['seconds']:.2f} s" for b in bare),
            "bare_cpu_seconds": min(b["cpu_seconds"] for b in bare),
            "load": (load_start, os.getloadavg()[0]),
            "import": imported,
            "ratio": imported["files"][0]["seconds"] / bare_seconds,
            "quality": quality,
            "storage": storage,
            "records": args.records,
            "clone": args.clone or "",
            "template": args.template if args.clone else "",
            "database_before": database_before,
            "statistics": statistics,
            "screening": screening,
            "warm_up": warm_up,
        }
        text = report(result)
        print()
        print(text)
        print("missed examples:", quality["missed_examples"])
        print("false examples:", quality["false_examples"])
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        (workdir / "result.json").write_text(json.dumps(result, indent=2, default=str))
    finally:
        if not args.keep:
            database_drop(args.database_url)
            for path in sorted(workdir.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            workdir.rmdir()


if __name__ == "__main__":
    main()
