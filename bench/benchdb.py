"""The realistic benchmark database of issue 13: built once as a template, cloned in seconds.

    .venv/bin/python bench/benchdb.py build [--scale 1.0] [--seed 0] [--reviews 50]
    .venv/bin/python bench/benchdb.py clone NAME --stats fresh|missing
    .venv/bin/python bench/benchdb.py drop NAME
    .venv/bin/python bench/benchdb.py info [NAME]
    .venv/bin/python bench/benchdb.py check [NAME] [--sample 4]

From another bench script (this file copied into, or merged into, the caller's checkout):

    from bench.benchdb import clone, drop
    url = clone("reviewapp_<you>_bench", "fresh")   # or "missing"; returns the DATABASE_URL
    ...
    drop("reviewapp_<you>_bench")

`build` makes a fresh database, migrates it with this checkout (`manage.py migrate`), fills it and
leaves it as the TEMPLATE database `reviewapp_benchdb_tpl` (at --scale < 1, or with fewer
reviews, another name such as `reviewapp_benchdb_tpl_s005`, so a development build never replaces
the full one). It is built under a temporary name and renamed at the end, so the template either
is the previous complete one or the new complete one. At scale 1 it holds:

- 50 reviews, 1,000,000 records in all. The measured review (slug `bench`) has 100,000 records
  (a PubMed XML import and an Embase RIS import with cross-database copies), owner `bench-owner`,
  analyst `bench-analyst`, reviewers `bench-r0`..`bench-r19`; dual, independent, blinded screening
  at both stages, include/exclude keywords, 15% of title/abstract screening done (conflicts
  resolved and open, undos, records waiting for their second vote) and a few full texts.
- 49 other reviews of 500 to 100,000 records (log-spread: a few large, many small) at every step
  of a review's life: just imported (no screening rows yet), not started, title/abstract screening
  under way, full texts under way, finished with extraction and meta-analyses. They carry PubMed
  searches, RIS/CSV imports (register records too), duplicate links found by the app's own matcher
  (automatic ones, candidates waiting for a person, confirmed and undone ones), single and dual
  screening with conflicts, adjudications, maybes and undos, full-text reports (retrieved and not),
  studies with several reports, exclusion reasons, extraction forms with single and dual
  extraction (submitted entries, consensus, drafts), analyses computed by the app's services,
  hand-entered PRISMA boxes. Team members of the bench review are on some other reviews too.
- Every user's password is `bench-password-not-secret`, hashed once with the configured default
  hasher (PBKDF2 under the production settings), so logging in through gunicorn works.

Records, decisions, their reasons, screening states and votes and duplicate links are written
with COPY; their contents come from the app's pure code: the matcher (`matching.DuplicateIndex`)
decides the links, `rules.settle` / `rules.vote_stacks` / `state.queue_key` the states and votes
(exactly what `stage_states_rebuild` would write), the parsers' normalisers the identifiers.
Smaller things go through the app's services (`review_create`, `report_study_ensure`,
`extraction_save`, `consensus_save`, `analysis_create`, `analysis_run`, `prisma_manual_set`).

The template is never ANALYZEd and autovacuum is off on all its tables, so a clone can have its
statistics missing. The heap is read once after the fill (hint bits set), nothing more.

`clone(name, stats)`: DROP DATABASE IF EXISTS name; CREATE DATABASE name TEMPLATE the template
(no one may be connected to the template meanwhile: a clear error says who is); `manage.py
migrate` of the caller's checkout (the checkout this file is in, or `checkout=`); then
- "fresh": autovacuum back on and ANALYZE of every table: statistics as a working autovacuum (or
  the app's own ANALYZE after a bulk write) leaves them;
- "missing": no statistics and autovacuum left off: an installation whose autovacuum is off or
  slow, right after the bulk writes.

`check` proves the build consistent (see `check`): used by tests/bench/test_benchdb.py on a tiny
build in the test database.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import random
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.import_bench import Article, Generator, corpus_load  # noqa: E402

SERVER = os.environ.get("BENCHDB_SERVER", "postgres://postgres@127.0.0.1:5432")
TEMPLATE = "reviewapp_benchdb_tpl"
BENCH_SLUG = "bench"
PASSWORD = "bench-password-not-secret"
BENCH_OWNER, BENCH_ANALYST = "bench-owner", "bench-analyst"
BENCH_REVIEWERS = [f"bench-r{i}" for i in range(20)]
POOL_USERS = [f"bench-u{i:02d}" for i in range(40)]
FULL_RECORDS, BENCH_RECORDS = 1_000_000, 100_000
SIZE_MIN, SIZE_MAX = 500, 100_000
COPY_ROWS = 20_000
START = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

# What each other review has done so far, cycled over the reviews (then shuffled against sizes).
PHASES = [
    "done",
    "ta",
    "ft",
    "done",
    "imported",
    "ta",
    "done",
    "ft",
    "not_started",
    "ta",
    "done",
    "ta",
    "ft",
    "done",
    "ta",
]

BENCH_KEYWORDS_INCLUDE = [
    "antihistamin*",
    "randomi*",
    "placebo",
    "allerg*",
    "rhinitis",
    "urticaria",
]
BENCH_KEYWORDS_EXCLUDE = ["rat", "rats", "mice", "in vitro", "pharmacokinetic*", "case report"]

FORM_ITEMS = [
    {"section": "Study", "label": "Country", "type": "text", "required": True},
    {
        "section": "Study",
        "label": "Design",
        "type": "single_choice",
        "choices": ["Randomised trial", "Prospective cohort", "Retrospective cohort"],
        "required": True,
    },
    {"section": "Study", "label": "Participants", "type": "integer", "min": 1, "required": True},
    {
        "section": "Outcomes",
        "label": "Response",
        "type": "estimate",
        "measure": "OR",
        "help": "Odds ratio of a response at the end of treatment",
    },
]
OUTCOME = "Response"
COUNTRIES = ["Italy", "Denmark", "Germany", "France", "Canada", "Spain", "Japan", "Brazil"]
DESIGNS = ["Randomised trial", "Prospective cohort", "Retrospective cohort"]


# --- database administration -------------------------------------------------------------------


def url_of(name: str) -> str:
    return f"{SERVER.rstrip('/')}/{name}"


def template_name(scale: float, reviews: int) -> str:
    """The full build's name, or a name of its own for any smaller build."""
    if scale >= 1 and reviews >= 50:
        return TEMPLATE
    suffix = f"_s{round(scale * 1000):03d}" if scale < 1 else ""
    if reviews != 50:
        suffix += f"_r{reviews}"
    return TEMPLATE + suffix


@contextmanager
def _admin():
    import psycopg2

    conn = psycopg2.connect(url_of("postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.close()


def _exists(cursor, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
    return cursor.fetchone() is not None


def _connected(cursor, name: str) -> list[str]:
    cursor.execute(
        "SELECT pid, usename, application_name, client_addr, state FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        [name],
    )
    return [
        f"pid {pid} ({user}, {app or 'no application name'}, {addr or 'local'}, {state})"
        for pid, user, app, addr, state in cursor.fetchall()
    ]


class BenchDbError(RuntimeError):
    """A clear reason why a database operation cannot be done."""


def _quote(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise BenchDbError(f"'{name}' is not a plain database name (letters, digits, _).")
    return f'"{name}"'


def drop(name: str) -> bool:
    """DROP DATABASE IF EXISTS name (a template is un-templated first); True if it existed."""
    import psycopg2

    with _admin() as cursor:
        if not _exists(cursor, name):
            return False
        cursor.execute("ALTER DATABASE " + _quote(name) + " WITH IS_TEMPLATE false")
        try:
            cursor.execute("DROP DATABASE " + _quote(name))
        except psycopg2.errors.ObjectInUse:
            raise BenchDbError(
                f"{name} is in use, so it cannot be dropped; connected: "
                + "; ".join(_connected(cursor, name))
            ) from None
    return True


def _server_version(cursor) -> int:
    cursor.execute("SHOW server_version_num")
    return int(cursor.fetchone()[0])


def _create_from(cursor, name: str, template: str) -> None:
    import psycopg2

    if not _exists(cursor, template):
        raise BenchDbError(
            f"The template {template} does not exist; build it first: python bench/benchdb.py build"
        )
    # FILE_COPY copies the files after a checkpoint; the default (WAL_LOG, PostgreSQL 15) would
    # write the whole database to the WAL, much slower for gigabytes.
    strategy = " STRATEGY = FILE_COPY" if _server_version(cursor) >= 150000 else ""
    try:
        cursor.execute(f"CREATE DATABASE {_quote(name)} TEMPLATE {_quote(template)}{strategy}")
    except psycopg2.errors.ObjectInUse:
        who = _connected(cursor, template)
        raise BenchDbError(
            f"{template} cannot be copied while someone is connected to it; connected: "
            + ("; ".join(who) or "(they left meanwhile: try again)")
            + ". Never connect to the template itself: clone it and use the clone."
        ) from None


def _migrate(url: str, checkout: Path) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "reviewapp.settings"}
    if "DJANGO_SECRET_KEY" not in env:
        env["DJANGO_DEBUG"] = "1"
    python = checkout / ".venv/bin/python"
    subprocess.run(
        [str(python if python.exists() else sys.executable), "manage.py", "migrate", "--no-input"],
        cwd=checkout,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _tables(cursor) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname"
    )
    return [row[0] for row in cursor.fetchall()]


def _autovacuum(url: str, enabled: bool) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            for table in _tables(cursor):
                if enabled:
                    cursor.execute(
                        f'ALTER TABLE "{table}" RESET (autovacuum_enabled, '
                        "toast.autovacuum_enabled)"
                    )
                else:
                    cursor.execute(
                        f'ALTER TABLE "{table}" SET (autovacuum_enabled = false, '
                        "toast.autovacuum_enabled = false)"
                    )
    finally:
        conn.close()


def clone(
    name: str, stats: str = "fresh", *, template: str = TEMPLATE, checkout: Path | None = None
) -> str:
    """A copy of the template as database `name`, migrated by the caller's checkout; its URL.

    stats="fresh": autovacuum on again and every table ANALYZEd (what a working autovacuum, or
    the app's own ANALYZE after a bulk write, leaves). stats="missing": no statistics at all and
    autovacuum still off on every table: it stands for an installation whose autovacuum is off or
    slow, right after the bulk writes (the template was never analyzed). Any database already
    called `name` is dropped first. Raises BenchDbError when the template is missing or someone
    is connected to it.
    """
    if stats not in ("fresh", "missing"):
        raise BenchDbError(f"stats must be 'fresh' or 'missing', not {stats!r}")
    if name == template or name.startswith(TEMPLATE):
        raise BenchDbError(f"{name} is a template's name; give the clone a name of its own.")
    import psycopg2

    with _admin() as cursor:
        if not _exists(cursor, template):
            # Before dropping anything of the caller's.
            raise BenchDbError(
                f"The template {template} does not exist; build it first: "
                "python bench/benchdb.py build"
            )
    drop(name)
    with _admin() as cursor:
        _create_from(cursor, name, template)
    url = url_of(name)
    _migrate(url, checkout or ROOT)
    if stats == "fresh":
        _autovacuum(url, True)
        conn = psycopg2.connect(url)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute("ANALYZE")
        finally:
            conn.close()
    else:
        # Tables a migration of the caller's checkout added have autovacuum on: turn it off too.
        _autovacuum(url, False)
    return url


# --- sizes and plans -----------------------------------------------------------------------------


def review_sizes(scale: float, reviews: int) -> list[int]:
    """Records per review: the measured one first, then the others log-spread, largest first."""
    bench = max(50, round(BENCH_RECORDS * scale))
    others = reviews - 1
    if others <= 0:
        return [bench]
    raw = [SIZE_MIN * (SIZE_MAX / SIZE_MIN) ** ((i + 0.5) / others) for i in range(others)]
    # The others hold 900,000 records at scale 1 with 50 reviews, in proportion otherwise.
    factor = (FULL_RECORDS - BENCH_RECORDS) * scale * min(1.0, others / 49) / sum(raw)
    sizes = [max(20, min(round(r * factor), SIZE_MAX)) for r in raw]
    return [bench, *sorted(sizes, reverse=True)]


@dataclass
class Plan:
    """What one review has done, decided before its rows are generated."""

    index: int
    slug: str
    title: str
    size: int
    phase: str
    ta_required: int
    ft_required: int
    queue_order: str
    relevance: float
    ta_progress: float
    ft_progress: float
    resolve: float
    sources: list[
        tuple[str, float]
    ]  # (kind, share): pubmed_search / pubmed_xml / embase / register
    team: list[str] = field(default_factory=list)
    owner: str = ""
    analyst: str = ""


def plans_make(scale: float, reviews: int, seed: int) -> list[Plan]:
    rng = random.Random(seed)
    sizes = review_sizes(scale, reviews)
    plans = [
        Plan(
            index=0,
            slug=BENCH_SLUG,
            title="Benchmark: antihistamines for allergic rhinitis and urticaria (100,000 records)",
            size=sizes[0],
            phase="bench",
            ta_required=2,
            ft_required=2,
            queue_order="file_order",
            relevance=0.04,
            ta_progress=0.15,
            ft_progress=0.3,
            resolve=0.5,
            sources=[("pubmed_xml", 0.85), ("embase", 0.15)],
            team=list(BENCH_REVIEWERS),
            owner=BENCH_OWNER,
            analyst=BENCH_ANALYST,
        )
    ]
    others = sizes[1:]
    phases = [PHASES[i % len(PHASES)] for i in range(len(others))]
    if len(others) >= 10:
        rng.shuffle(phases)
    pool = list(POOL_USERS)
    for i, (size, phase) in enumerate(zip(others, phases, strict=True), start=1):
        ta_progress = {
            "imported": 0.0,
            "not_started": 0.0,
            "ta": rng.uniform(0.1, 0.9),
            "ft": 1.0,
            "done": 1.0,
        }[phase]
        ft_progress = {"ta": rng.choice([0.0, 0.2]), "ft": rng.uniform(0.2, 0.8), "done": 1.0}
        team = rng.sample(pool, rng.randint(2, 5))
        if i % 4 == 1:
            # Members of the measured review's team work on other reviews too.
            team.append(BENCH_REVIEWERS[i % 5])
        sources = [("pubmed_search", rng.uniform(0.55, 0.75)), ("embase", 0.0)]
        if rng.random() < 0.3:
            sources.append(("register", rng.uniform(0.02, 0.05)))
        sources[1] = ("embase", 1 - sum(s for _, s in sources))
        plans.append(
            Plan(
                index=i,
                slug=f"bench-other-{i:02d}",
                title=f"Benchmark review {i:02d} ({size:,} records, {phase.replace('_', ' ')})",
                size=size,
                phase=phase,
                ta_required=2 if rng.random() < 0.6 else 1,
                ft_required=2 if rng.random() < 0.5 else 1,
                queue_order=rng.choice(["file_order", "file_order", "random"]),
                relevance=max(rng.uniform(0.01, 0.04), min(0.5, 14 / size)),
                ta_progress=ta_progress,
                ft_progress=ft_progress.get(phase, 0.0),
                resolve=1.0 if phase in ("ft", "done") else rng.uniform(0.3, 0.9),
                sources=sources,
                team=team,
                owner=rng.choice(pool),
                analyst=rng.choice(pool) if rng.random() < 0.5 else "",
            )
        )
    return plans


# --- COPY ------------------------------------------------------------------------------------------


def _esc(text: str) -> str:
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _cell(value: object) -> str:
    if value is None:
        return "\\N"
    if value.__class__ is str:
        return _esc(value)  # type: ignore[arg-type]
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return _esc(json.dumps(value, ensure_ascii=False))
    return str(value)


class Copier:
    """Rows of one table sent with COPY in batches, inside the caller's transaction."""

    def __init__(self, cursor, table: str, columns: list[str]):
        self.cursor, self.table, self.columns = cursor, table, columns
        self.lines: list[str] = []
        self.count = 0

    def add(self, row: Iterable[object]) -> None:
        self.lines.append("\t".join(map(_cell, row)))
        if len(self.lines) >= COPY_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.lines:
            return
        buffer = StringIO("\n".join(self.lines) + "\n")
        self.cursor.copy_expert(
            f'COPY "{self.table}" ({", ".join(self.columns)}) FROM STDIN', buffer
        )
        self.count += len(self.lines)
        self.lines = []


def _reserve(cursor, table: str, n: int) -> int:
    """The first of n consecutive ids taken from the table's sequence."""
    if n <= 0:
        return 0
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s)", [sequence])
    first = cursor.fetchone()[0]
    cursor.execute("SELECT setval(%s, %s)", [sequence, first + n - 1])
    return first


# --- records and duplicates ------------------------------------------------------------------------


def _record_row(article: Article, kind: str) -> dict:
    """The fields the app's parser would give for this article from this kind of source."""
    from reviewapp.literature import matching
    from reviewapp.literature.parsers.base import AbstractSection
    from reviewapp.literature.parsers.normalise import (
        flatten_abstract,
        normalise_doi,
        normalise_pmcid,
        normalise_pmid,
        plain_text,
    )

    # The XML parser's text clean-up (whitespace runs collapsed) applies to every text field.
    sections = [
        AbstractSection(label, plain_text(text)) for label, _category, text in article.abstract
    ]
    pmid = normalise_pmid(article.pmid) if kind in ("pubmed_search", "pubmed_xml") else ""
    doi = normalise_doi(article.doi)
    pmcid = normalise_pmcid(article.pmcid)
    if kind in ("pubmed_search", "pubmed_xml"):
        # The ArticleIdList as the source wrote it, not normalised (what the parser keeps).
        ids = {"pubmed": article.pmid}
        if article.doi:
            ids["doi"] = article.doi
        if article.pmcid:
            ids["pmc"] = article.pmcid
        raw: dict = {"article_ids": ids}
    elif kind == "embase":
        raw = {"TY": ["JOUR"], "DB": ["Embase"], "AN": [str(abs(hash(article.title)) % 10**9)]}
    else:
        raw = {"source": "ClinicalTrials.gov", "status": "Completed"}
    title = plain_text(article.title)
    return {
        "pmid": pmid,
        "doi": doi if kind != "register" else "",
        "pmcid": pmcid if kind != "register" else "",
        "title": title,
        "title_key": matching.title_key(title)[:255],
        "abstract": flatten_abstract(sections),
        "abstract_sections": (
            [{"label": s.label, "text": s.text} for s in sections]
            if kind in ("pubmed_search", "pubmed_xml")
            else []
        ),
        "authors": [f"{last}, {initials}" for last, _fore, initials in article.authors],
        "journal": article.journal[0][:500],
        "year": article.year,
        "volume": article.volume,
        "issue": article.issue,
        "pages": article.pages,
        "keywords": article.keywords,
        "mesh_terms": [m[0] for m in article.mesh] if kind != "register" else [],
        "publication_types": article.types,
        "language": "eng",
        "raw": raw,
    }


@dataclass
class Built:
    """What later steps need of one review's records (ids in file order)."""

    review_id: int
    record_ids: list[int]
    active_dups: set[int]
    relevant: set[int]
    imported_at: dt.datetime
    links: list[tuple[int, int, str, str]] = field(default_factory=list)


def records_write(cursor, *, review, plan: Plan, seed: int, corpus, owner_id: int, at) -> Built:
    """The review's searches/imports and records (COPY), with the matcher's duplicate links."""
    from reviewapp.literature import matching
    from reviewapp.literature.constants import (
        DuplicateStatus,
        ImportFormat,
        JobStatus,
        SourceKind,
    )
    from reviewapp.literature.copyrows import RECORD_CONTENT_COLUMNS
    from reviewapp.literature.models import DuplicateLink, Import, Record, Search
    from reviewapp.literature.parsers.normalise import surname_of
    from reviewapp.literature.services import AUTOMATIC_RULES, TITLE_KEY_LENGTH

    rng = random.Random(seed * 1000 + plan.index)
    gen = Generator(seed * 1000 + plan.index, corpus)
    n = plan.size
    counts = [max(1, round(n * share)) for _, share in plan.sources]
    counts[0] += n - sum(counts)
    first_id = _reserve(cursor, Record._meta.db_table, n)
    index = matching.DuplicateIndex()
    record_table = Record._meta.db_table
    columns = [
        "id",
        "review_id",
        "number",  # the record's number in its review, 1..n in file order
        "search_id",
        "source_import_id",
        "source_position",
        *RECORD_CONTENT_COLUMNS,
        "created_at",
    ]
    copier = Copier(cursor, record_table, columns)
    articles: list[Article] = []  # earlier sources' articles, for cross-database copies
    links: list[tuple[int, int, str, float]] = []
    rid = first_id
    for (kind, _share), count in zip(plan.sources, counts, strict=True):
        if count <= 0:
            continue
        at += dt.timedelta(minutes=rng.randint(5, 90))
        source: dict = {"search_id": None, "source_import_id": None}
        common = {
            "review": review,
            "status": JobStatus.DONE,
            "started_at": at,
            "finished_at": at + dt.timedelta(seconds=5 + count // 2000),
            "progress_done": count,
            "progress_total": count,
            "created_by_id": owner_id,
        }
        if kind == "pubmed_search":
            obj = Search.objects.create(
                source_database="PubMed",
                source_kind=SourceKind.DATABASE,
                query=f"({plan.title.split(':')[0]}) AND (trial OR cohort)",
                run_at=at,
                count_reported=count,
                count_retrieved=count,
                count_new=count,
                **common,
            )
            source["search_id"] = obj.pk
        else:
            fmt, name, db, source_kind = {
                "pubmed_xml": (ImportFormat.PUBMED_XML, "pubmed_result.xml", "PubMed", "database"),
                "embase": (ImportFormat.RIS, "embase_export.ris", "Embase", "database"),
                "register": (
                    ImportFormat.CSV,
                    "ctgov_results.csv",
                    "ClinicalTrials.gov",
                    "register",
                ),
            }[kind]
            obj = Import.objects.create(
                file_name=name,
                format=fmt,
                source_database=db,
                source_kind=SourceKind(source_kind),
                count_read=count,
                count_imported=count,
                **common,
            )
            source["source_import_id"] = obj.pk
        source_links = 0
        new_articles: list[Article] = []
        pending: list[Article] = []  # hard negatives waiting for their turn in the file
        for position in range(1, count + 1):
            if pending:
                article = pending.pop()
            elif articles and kind == "embase" and rng.random() < 0.35:
                # Later databases return many of the earlier ones' citations.
                article, _tags = gen.duplicate(rng.choice(articles))
            elif new_articles and kind == "pubmed_xml" and rng.random() < 0.02:
                # A PubMed export joined from two result sets repeats a few records.
                article = Article(**{**rng.choice(new_articles).__dict__})
            else:
                article = gen.article()
                if rng.random() < 0.03:
                    # Look-alikes that are other publications (part 2, erratum, protocol).
                    pending.extend(gen.negatives(article))
            if kind == "register":
                article.abstract = article.abstract[:1]
            new_articles.append(article)
            row = _record_row(article, kind)
            first = surname_of(row["authors"][0]) if row["authors"] else ""
            key = row["title_key"] if len(row["title_key"]) < TITLE_KEY_LENGTH else ""
            found = index.check(
                matching.MatchRecord(
                    rid, row["pmid"], row["doi"], row["title"], row["year"], first, key
                )
            )
            if found is not None:
                links.append((found.duplicate_id, found.primary_id, found.rule, found.score))
                source_links += 1
            copier.add(
                [
                    rid,
                    review.pk,
                    rid - first_id + 1,
                    source["search_id"],
                    source["source_import_id"],
                    position,
                    *(row[f] for f in RECORD_CONTENT_COLUMNS),
                    at,
                ]
            )
            rid += 1
        articles.extend(new_articles)
        if source["source_import_id"]:
            Import.objects.filter(pk=source["source_import_id"]).update(
                count_duplicates=source_links
            )
        else:
            Search.objects.filter(pk=source["search_id"]).update(count_new=count - source_links)
    copier.flush()

    # People act on the links before screening: candidates confirmed or undone, a few automatic
    # links undone (two reports that only share a DOI).
    team_ids = plan_team_ids(plan)
    link_copier = Copier(
        cursor,
        DuplicateLink._meta.db_table,
        [
            "id",
            "review_id",
            "duplicate_id",
            "primary_id",
            "rule",
            "score",
            "status",
            "created_at",
            "created_by_id",
            "confirmed_by_id",
            "undone_at",
            "undone_by_id",
        ],
    )
    link_id = _reserve(cursor, DuplicateLink._meta.db_table, len(links))
    active: set[int] = set()
    kept: list[tuple[int, int, str, str]] = []
    acted = plan.phase not in ("imported",)
    for duplicate_id, primary_id, rule, score in links:
        status = (
            DuplicateStatus.AUTOMATIC if rule in AUTOMATIC_RULES else DuplicateStatus.NEEDS_REVIEW
        )
        confirmed_by = undone_by = undone_at = None
        roll = rng.random()
        if acted and status == DuplicateStatus.NEEDS_REVIEW:
            if roll < 0.5:
                status, confirmed_by = DuplicateStatus.CONFIRMED, rng.choice(team_ids)
            elif roll < 0.65:
                undone_by, undone_at = rng.choice(team_ids), at + dt.timedelta(hours=2)
        elif acted and roll < 0.005:
            undone_by, undone_at = rng.choice(team_ids), at + dt.timedelta(hours=2)
        if undone_at is None:
            active.add(duplicate_id)
        kept.append((duplicate_id, primary_id, rule, status))
        link_copier.add(
            [
                link_id,
                review.pk,
                duplicate_id,
                primary_id,
                rule,
                min(1.0, score / 100),
                status,
                at,
                None,
                confirmed_by,
                undone_at,
                undone_by,
            ]
        )
        link_id += 1
    link_copier.flush()
    record_ids = list(range(first_id, first_id + n))
    candidates = [r for r in record_ids if r not in active]
    n_relevant = max(1, round(len(candidates) * plan.relevance))
    relevant = set(rng.sample(candidates, min(n_relevant, len(candidates))))
    return Built(review.pk, record_ids, active, relevant, at + dt.timedelta(hours=3), kept)


_TEAM_IDS: dict[str, int] = {}


def plan_team_ids(plan: Plan) -> list[int]:
    return [_TEAM_IDS[u] for u in plan.team]


# --- screening events ------------------------------------------------------------------------------


@dataclass
class Ev:
    at: dt.datetime
    record_id: int
    reviewer_id: int
    kind: str
    value: str
    reasons: tuple[int, ...] = ()
    note: str = ""


def _vote(rng: random.Random, truth: bool, accuracy: float, maybe: float) -> str:
    if rng.random() < maybe:
        return "maybe"
    right = rng.random() < accuracy
    return ("include" if truth else "exclude") if right else ("exclude" if truth else "include")


def stage_events(
    rng: random.Random,
    *,
    stage: str,
    queue: list[int],
    truth: dict[int, bool],
    required: int,
    progress: float,
    resolve: float,
    reviewers: list[int],
    adjudicators: list[int],
    reasons: list[int],
    start: dt.datetime,
    finish: dt.datetime,
    in_flight: bool,
) -> list[Ev]:
    """Decision events of one stage: `progress` of `queue` screened in order, as teams do.

    Dual screening: two different reviewers vote per record; disagreements and maybes are
    conflicts, a share `resolve` of them adjudicated. Single: one vote, maybes adjudicated at the
    same rate. A few undos (a retract then a new vote) and changes of mind. With `in_flight`, the
    last screened records still wait for their second vote.
    """
    from reviewapp.screening.rules import Event, settle

    done = round(len(queue) * progress)
    events: list[Ev] = []
    span = (finish - start).total_seconds()
    accuracy = 0.95 if stage == "ta" else 0.9
    maybe = 0.02 if stage == "ta" else 0.03
    waiting_from = done - max(1, done // 60) if in_flight and required == 2 else done
    for position, rid in enumerate(queue[:done]):
        t = start + dt.timedelta(seconds=span * position / max(1, len(queue)))
        voters = rng.sample(reviewers, min(required, len(reviewers)))
        if position >= waiting_from:
            voters = voters[:1]
        record_events: list[Ev] = []
        for k, who in enumerate(voters):
            at = t + dt.timedelta(seconds=rng.randint(5, 3 * 86400) if k else rng.randint(0, 60))
            value = _vote(rng, truth[rid], accuracy, maybe)
            why = _reasons_for(rng, stage, value, reasons)
            roll = rng.random()
            if roll < 0.01:
                # A slip undone at once, then the vote meant.
                slip = "include" if value != "include" else "exclude"
                record_events.append(
                    Ev(at, rid, who, "vote", slip, _reasons_for(rng, stage, slip, reasons))
                )
                record_events.append(Ev(at + dt.timedelta(seconds=4), rid, who, "vote", "retract"))
                at += dt.timedelta(seconds=9)
            record_events.append(Ev(at, rid, who, "vote", value, why))
            if roll > 0.996:
                # A change of mind a day later: a second vote on top of the first.
                other = "exclude" if value != "exclude" else "include"
                record_events.append(
                    Ev(at + DAY, rid, who, "vote", other, _reasons_for(rng, stage, other, reasons))
                )
            elif (
                in_flight
                and 0.993 < roll <= 0.996
                and k == len(voters) - 1
                and position < waiting_from
            ):
                # An undo with no new vote yet: the record waits for this reviewer again.
                record_events.append(Ev(at + dt.timedelta(seconds=30), rid, who, "vote", "retract"))
        record_events.sort(key=lambda e: e.at)
        state = settle([Event(e.reviewer_id, e.kind, e.value) for e in record_events], required)
        if state in ("conflict", "maybe") and rng.random() < resolve:
            at = max(e.at for e in record_events) + dt.timedelta(days=rng.randint(1, 10))
            value = "include" if truth[rid] else "exclude"
            note = "Discussed at the team meeting." if rng.random() < 0.3 else ""
            record_events.append(
                Ev(
                    at,
                    rid,
                    rng.choice(adjudicators),
                    "adjudication",
                    value,
                    _reasons_for(rng, stage, value, reasons, adjudication=True),
                    note,
                )
            )
        events.extend(record_events)
    events.sort(key=lambda e: (e.at, e.record_id))
    return events


def _reasons_for(
    rng: random.Random, stage: str, value: str, reasons: list[int], adjudication: bool = False
) -> tuple[int, ...]:
    if value != "exclude" or not reasons:
        return ()
    if stage == "ft":
        # A full-text exclusion needs a reason (decision_record refuses one without).
        return tuple(sorted(rng.sample(reasons, 1 if rng.random() < 0.8 else 2)))
    if adjudication or rng.random() < 0.2:
        return (rng.choice(reasons),)
    return ()


def events_write(cursor, review_id: int, stage: str, events: list[Ev], rng: random.Random) -> None:
    from reviewapp.screening.models import Decision

    table = Decision._meta.db_table
    through = Decision.reasons.through
    first = _reserve(cursor, table, len(events))
    decisions = Copier(
        cursor,
        table,
        [
            "id",
            "review_id",
            "record_id",
            "stage",
            "reviewer_id",
            "kind",
            "value",
            "note",
            "client_token",
            "details",
            "created_at",
        ],
    )
    reason_rows = [(first + i, r) for i, e in enumerate(events) for r in e.reasons]
    links = Copier(cursor, through._meta.db_table, ["id", "decision_id", "exclusionreason_id"])
    link_first = _reserve(cursor, through._meta.db_table, len(reason_rows))
    for i, e in enumerate(events):
        token = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        decisions.add(
            [
                first + i,
                review_id,
                e.record_id,
                stage,
                e.reviewer_id,
                e.kind,
                e.value,
                e.note,
                token,
                "{}",
                e.at,
            ]
        )
    decisions.flush()
    for j, (decision_id, reason_id) in enumerate(reason_rows):
        links.add([link_first + j, decision_id, reason_id])
    links.flush()


def states_write(
    cursor, review_id: int, stage: str, record_ids: list[int], events: list[Ev], required: int
) -> dict[int, str]:
    """The state rows and current votes `stage_states_rebuild` would write; the states."""
    from reviewapp.screening.models import RecordStageState, RecordVote
    from reviewapp.screening.rules import Event, settle, vote_stacks
    from reviewapp.screening.state import queue_key

    by_record: dict[int, list[Ev]] = defaultdict(list)
    for e in events:  # already in (created_at, id) order
        by_record[e.record_id].append(e)
    ids = sorted(set(record_ids) | set(by_record))
    state_table, vote_table = RecordStageState._meta.db_table, RecordVote._meta.db_table
    state_first = _reserve(cursor, state_table, len(ids))
    states = Copier(
        cursor,
        state_table,
        ["id", "review_id", "record_id", "stage", "state", "n_votes", "queue_key", "updated_at"],
    )
    vote_rows = []
    result: dict[int, str] = {}
    now = max((e.at for e in events), default=START)
    for i, rid in enumerate(ids):
        record_events = by_record.get(rid, [])
        pure = [Event(e.reviewer_id, e.kind, e.value) for e in record_events]
        stacks = vote_stacks(pure)
        last_at = {e.reviewer_id: e.at for e in record_events if e.kind == "vote"}
        state = settle(pure, required).value
        result[rid] = state
        states.add(
            [state_first + i, review_id, rid, stage, state, len(stacks), queue_key(rid), now]
        )
        for reviewer, stack in stacks.items():
            vote_rows.append((rid, reviewer, stack[-1], stack[0], last_at[reviewer]))
    states.flush()
    vote_first = _reserve(cursor, vote_table, len(vote_rows))
    votes = Copier(
        cursor,
        vote_table,
        [
            "id",
            "review_id",
            "record_id",
            "stage",
            "reviewer_id",
            "value",
            "first_value",
            "decided_at",
        ],
    )
    for j, (rid, reviewer, value, first_value, at) in enumerate(vote_rows):
        votes.add([vote_first + j, review_id, rid, stage, reviewer, value, first_value, at])
    votes.flush()
    return result


# --- one review ----------------------------------------------------------------------------------


def review_fill(cursor, plan: Plan, *, seed: int, corpus, password_hash: str) -> dict:
    """Every row of one review; returns a few counts for the summary."""
    from django.contrib.auth import get_user_model

    from reviewapp.reviews.constants import Role
    from reviewapp.reviews.models import Membership, Review
    from reviewapp.reviews.services import review_create
    from reviewapp.screening.constants import RetrievalStatus, Stage
    from reviewapp.screening.models import ExclusionReason, Report, StageSettings, StoppingRule
    from reviewapp.screening.state import queue_key

    User = get_user_model()
    rng = random.Random(seed * 7919 + plan.index)
    users = {u.username: u for u in User.objects.filter(username__in=[plan.owner, *plan.team])}
    owner = users[plan.owner]
    created = START + dt.timedelta(days=3 * plan.index)
    review = review_create(
        title=plan.title,
        slug=plan.slug,
        owner=owner,
        question="In adults with the condition, does the treatment improve response compared "
        "with placebo or usual care?",
        protocol_registration=f"PROSPERO CRD42025{100000 + plan.index}",
        inclusion_criteria="Randomised or cohort studies\nAdults\nResponse reported",
        exclusion_criteria="Animal or in vitro studies\nCase reports\nReviews and editorials",
    )
    Review.objects.filter(pk=review.pk).update(created_at=created)
    if plan.phase == "bench":
        review.keywords_include = BENCH_KEYWORDS_INCLUDE
        review.keywords_exclude = BENCH_KEYWORDS_EXCLUDE
    else:
        review.keywords_include = rng.sample(BENCH_KEYWORDS_INCLUDE, 3)
        review.keywords_exclude = rng.sample(BENCH_KEYWORDS_EXCLUDE, 2)
    review.save(update_fields=["keywords_include", "keywords_exclude"])
    for username in plan.team:
        Membership.objects.get_or_create(
            review=review, user=users[username], defaults={"role": Role.REVIEWER, "added_by": owner}
        )
    if plan.analyst:
        analyst = User.objects.get(username=plan.analyst)
        Membership.objects.get_or_create(
            review=review, user=analyst, defaults={"role": Role.ANALYST, "added_by": owner}
        )
    StageSettings.objects.filter(review=review, stage=Stage.TITLE_ABSTRACT).update(
        reviewers_required=plan.ta_required, queue_order=plan.queue_order
    )
    StageSettings.objects.filter(review=review, stage=Stage.FULL_TEXT).update(
        reviewers_required=plan.ft_required
    )
    built = records_write(
        cursor,
        review=review,
        plan=plan,
        seed=seed,
        corpus=corpus,
        owner_id=owner.pk,
        at=created + dt.timedelta(days=1),
    )
    out = {"records": plan.size, "links": len(built.links), "decisions": 0}
    if plan.phase == "imported":
        # Just imported: nobody has opened the screening queue, so no state rows exist yet.
        return out
    reviewer_ids = [users[u].pk for u in plan.team]
    adjudicators = [owner.pk]
    reasons = list(
        ExclusionReason.objects.filter(review=review)
        .order_by("position")
        .values_list("pk", flat=True)
    )
    eligible = [r for r in built.record_ids if r not in built.active_dups]
    if plan.queue_order == "random":
        eligible.sort(key=queue_key)
    truth = {r: r in built.relevant for r in eligible}
    ta_start = built.imported_at + DAY
    ta_finish = ta_start + dt.timedelta(days=max(7, plan.size // 400))
    ta_events = stage_events(
        rng,
        stage="ta",
        queue=eligible,
        truth=truth,
        required=plan.ta_required,
        progress=plan.ta_progress,
        resolve=plan.resolve,
        reviewers=reviewer_ids,
        adjudicators=adjudicators,
        reasons=reasons,
        start=ta_start,
        finish=ta_finish,
        in_flight=plan.phase in ("bench", "ta"),
    )
    if plan.phase in ("ft", "done"):
        if rng.random() < 0.5:
            # The team declared a stopping rule while screening (it then screened everything).
            StoppingRule.objects.create(
                review=review,
                stage=Stage.TITLE_ABSTRACT,
                min_screened=min(1000, len(eligible)),
                note="Declared before stopping, as the protocol says.",
                declared_by=owner,
                screened_when_declared=len(eligible) // 2,
            )
        ta_events += _settle_leftovers(
            rng, ta_events, plan.ta_required, truth, adjudicators, reasons, "ta"
        )
        ta_events.sort(key=lambda e: (e.at, e.record_id))
    events_write(cursor, review.pk, "ta", ta_events, rng)
    ta_states = states_write(cursor, review.pk, "ta", built.record_ids, ta_events, plan.ta_required)
    StageSettings.objects.filter(review=review, stage=Stage.TITLE_ABSTRACT).update(
        rows_synced_to=max(built.record_ids)
    )
    out["decisions"] += len(ta_events)

    # Full texts of the records included at title/abstract.
    included = sorted(r for r, s in ta_states.items() if s == "included")
    ft_queue = sorted(included)
    processed = ft_queue[: round(len(ft_queue) * plan.ft_progress)]
    not_retrieved = {r for r in processed if rng.random() < 0.04}
    retrieved = [r for r in processed if r not in not_retrieved]
    Report.objects.bulk_create(
        [
            Report(
                review=review,
                record_id=r,
                retrieval_status=(
                    RetrievalStatus.NOT_RETRIEVED
                    if r in not_retrieved
                    else RetrievalStatus.RETRIEVED
                ),
                url="" if r in not_retrieved else f"https://fulltext.example.org/record/{r}.pdf",
                updated_by_id=rng.choice(reviewer_ids),
            )
            for r in processed
        ],
        batch_size=2000,
    )
    ft_truth = {r: (r in built.relevant and rng.random() < 0.8) for r in retrieved}
    ft_start = ta_finish + dt.timedelta(days=10)
    ft_finish = ft_start + dt.timedelta(days=30)
    ft_events = stage_events(
        rng,
        stage="ft",
        queue=retrieved,
        truth=ft_truth,
        required=plan.ft_required,
        progress=1.0,
        resolve=plan.resolve,
        reviewers=reviewer_ids,
        adjudicators=adjudicators,
        reasons=reasons,
        start=ft_start,
        finish=ft_finish,
        in_flight=plan.phase in ("bench", "ft"),
    )
    if plan.phase == "done":
        ft_events += _settle_leftovers(
            rng, ft_events, plan.ft_required, ft_truth, adjudicators, reasons, "ft"
        )
        ft_events.sort(key=lambda e: (e.at, e.record_id))
    events_write(cursor, review.pk, "ft", ft_events, rng)
    ft_states = states_write(cursor, review.pk, "ft", included, ft_events, plan.ft_required)
    out["decisions"] += len(ft_events)
    studies_make(review, owner, [r for r, s in ft_states.items() if s == "included"], rng)
    if plan.phase == "done":
        out["analyses"] = extraction_and_analysis(review, plan, users, rng)
        if rng.random() < 0.4:
            prisma_manual(review, owner)
    return out


def _settle_leftovers(
    rng, events: list[Ev], required: int, truth: dict[int, bool], adjudicators, reasons, stage
) -> list[Ev]:
    """Adjudications for whatever is still in conflict or maybe: a finished stage."""
    from reviewapp.screening.rules import Event, settle

    by_record: dict[int, list[Ev]] = defaultdict(list)
    for e in events:
        by_record[e.record_id].append(e)
    extra = []
    for rid, record_events in by_record.items():
        state = settle([Event(e.reviewer_id, e.kind, e.value) for e in record_events], required)
        if state in ("conflict", "maybe"):
            value = "include" if truth[rid] else "exclude"
            extra.append(
                Ev(
                    max(e.at for e in record_events) + dt.timedelta(days=2),
                    rid,
                    rng.choice(adjudicators),
                    "adjudication",
                    value,
                    _reasons_for(rng, stage, value, reasons, adjudication=True),
                )
            )
    return extra


def studies_make(review, owner, included: list[int], rng: random.Random) -> None:
    """Each report included at full text gets its study (the app's service); a few share one."""
    from reviewapp.literature.models import Record
    from reviewapp.reviews.models import Membership
    from reviewapp.screening.fulltext import report_study_set
    from reviewapp.screening.services import report_study_ensure

    records = {r.pk: r for r in Record.objects.filter(pk__in=included)}
    reports = [report_study_ensure(review=review, record=records[r], user=owner) for r in included]
    membership = Membership.objects.get(review=review, user=owner)
    for later, main in zip(reports[1::12], reports[0::12], strict=False):
        # A later paper of the same study (an extension, a follow-up).
        report_study_set(membership=membership, record=later.record, study_id=main.study_id)


def extraction_and_analysis(review, plan: Plan, users: dict, rng: random.Random) -> int:
    """A form, single or dual extraction with consensus, and analyses computed by the app."""
    from reviewapp.extraction.selectors import studies_included
    from reviewapp.extraction.services import (
        consensus_save,
        extraction_form_create,
        extraction_save,
        form_version_save,
    )
    from reviewapp.reviews.models import Membership
    from reviewapp.synthesis.selectors import outcome_choices
    from reviewapp.synthesis.services import analysis_create, analysis_run

    owner = Membership.objects.get(review=review, user=users[plan.owner])
    dual = plan.ft_required == 2 and len(plan.team) >= 2
    form = extraction_form_create(
        membership=owner,
        name="Study characteristics and response",
        extractors_required=2 if dual else 1,
    )
    version, _ = form_version_save(membership=owner, form=form, items=FORM_ITEMS)
    keys = {
        item["label"]: item["key"] for s in version.definition["sections"] for item in s["items"]
    }
    extractors = [Membership.objects.get(review=review, user=users[u]) for u in plan.team]
    studies = list(studies_included(review).order_by("label"))[:40]
    for i, study in enumerate(studies):
        log_or = rng.gauss(0.4, 0.35)
        se = rng.uniform(0.15, 0.45)
        values = {
            keys["Country"]: rng.choice(COUNTRIES),
            keys["Design"]: rng.choice(DESIGNS),
            keys["Participants"]: str(rng.randint(40, 900)),
        }
        outcome = {
            "group": keys[OUTCOME],
            "outcome": OUTCOME,
            "time_point": "end of treatment",
            "estimate": f"{math.exp(log_or):.2f}",
            "ci_lower": f"{math.exp(log_or - 1.96 * se):.2f}",
            "ci_upper": f"{math.exp(log_or + 1.96 * se):.2f}",
        }
        raw = {"values": values, "outcomes": [outcome]}
        who = rng.sample(extractors, 2 if dual else 1)
        last = i == len(studies) - 1 and len(studies) > 3
        for k, member in enumerate(who):
            extraction_save(
                membership=member,
                form=form,
                study=study,
                raw=raw,
                expected_revision=0,
                # The last study: the second extractor is still at work (a draft).
                submit=not (last and k == 1),
            )
        if dual and not last:
            consensus_save(membership=who[0], form=form, study=study, raw=raw, expected_revision=0)
    analyst = owner
    choices = [c for c in outcome_choices(review) if c.form_id == form.pk]
    made = 0
    for choice in choices:
        if choice.n_studies < 2:
            continue
        for name, model, method in (
            ("Response: random effects (REML)", "random", "REML"),
            ("Response: fixed effect", "fixed", "FE"),
        ):
            analysis = analysis_create(
                membership=analyst,
                name=name,
                outcome_key=choice.value,
                measure="GEN",
                model=model,
                method=method,
                ratio=True,
            )
            analysis_run(membership=analyst, analysis=analysis)
            made += 1
    return made


def prisma_manual(review, owner) -> None:
    """Other-methods boxes entered by hand (citation searching), consistent with each other."""
    from reviewapp.reporting.constants import ManualPrismaField as F
    from reviewapp.reporting.services import prisma_manual_set
    from reviewapp.reviews.models import Membership

    membership = Membership.objects.get(review=review, user=owner)
    prisma_manual_set(
        membership=membership,
        values={
            F.CITATIONS_RESULTS: 14,
            F.OTHER_SOUGHT: 5,
            F.OTHER_NOT_RETRIEVED: 1,
            F.OTHER_ASSESSED: 4,
            F.OTHER_EXCLUDED: 2,
            F.OTHER_STUDIES: 2,
        },
        note="Reference lists of the included studies.",
    )


# --- the whole fill --------------------------------------------------------------------------------


def users_make(plans: list[Plan]) -> str:
    """Every user, sharing one real hash of PASSWORD (hashed once: the default hasher is slow)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    password_hash = make_password(PASSWORD)
    names = sorted(
        {BENCH_OWNER, BENCH_ANALYST, *BENCH_REVIEWERS, *POOL_USERS}
        | {u for p in plans for u in (p.owner, p.analyst, *p.team) if u}
    )
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    User.objects.bulk_create(
        [
            User(username=n, email=f"{n}@bench.example.org", password=password_hash)
            for n in names
            if n not in existing
        ]
    )
    _TEAM_IDS.update(dict(User.objects.filter(username__in=names).values_list("username", "pk")))
    return password_hash


def fill(*, scale: float = 1.0, seed: int = 0, reviews: int = 50, log=print) -> dict:
    """Fill the current database (Django set up) with the benchmark data; returns a summary."""
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        raise BenchDbError("The benchmark database is PostgreSQL only (COPY).")
    plans = plans_make(scale, reviews, seed)
    corpus = corpus_load()
    summary: dict = {"reviews": len(plans), "records": 0, "decisions": 0, "links": 0, "analyses": 0}
    with transaction.atomic():
        password_hash = users_make(plans)
    raw_cursor = connection.cursor().cursor
    for plan in plans:
        t0 = time.monotonic()
        with transaction.atomic():
            raw_cursor = connection.cursor().cursor
            counts = review_fill(
                raw_cursor, plan, seed=seed, corpus=corpus, password_hash=password_hash
            )
        for key, value in counts.items():
            summary[key] = summary.get(key, 0) + value
        log(
            f"  {plan.slug}: {plan.size:,} records, {plan.phase}, {counts['decisions']:,} decisions,"
            f" {counts['links']:,} links ({time.monotonic() - t0:.1f} s)"
        )
    # The rows above were written with COPY, past the writes that keep the counts: count them
    # once from the rows, as a rebuild does.
    from reviewapp.core.tally import tally_recount

    with transaction.atomic():
        tally_recount(parts="spm")
        tally_recount(parts="src")
    return summary


def _django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    if "DJANGO_SECRET_KEY" not in os.environ:
        os.environ["DJANGO_DEBUG"] = "1"
    import django

    django.setup()


def _touch(url: str) -> None:
    """Read every table once so the hint bits are set in the template, not in each clone's first
    measured query. No ANALYZE, no VACUUM: statistics stay missing."""
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            for table in _tables(cursor):
                cursor.execute(f'SELECT count(*) FROM "{table}"')
    finally:
        conn.close()


def build(*, scale: float = 1.0, seed: int = 0, reviews: int = 50, log=print) -> dict:
    """Build the template (see the module docstring); returns the summary with the build time."""
    started = time.monotonic()
    name = template_name(scale, reviews)
    building = f"{name}_building"
    drop(building)
    with _admin() as cursor:
        cursor.execute(f"CREATE DATABASE {_quote(building)}")
    url = url_of(building)
    log(f"{building}: migrating")
    _migrate(url, ROOT)
    # Before the first row: autovacuum would otherwise analyze the tables behind our back.
    _autovacuum(url, False)
    _django_setup(url)
    log(f"{building}: filling (scale {scale}, seed {seed}, {reviews} reviews)")
    summary = fill(scale=scale, seed=seed, reviews=reviews, log=log)
    from django.db import connections

    connections.close_all()
    _touch(url)
    drop(name)
    with _admin() as cursor:
        cursor.execute(f"ALTER DATABASE {_quote(building)} RENAME TO {_quote(name)}")
        cursor.execute(f"ALTER DATABASE {_quote(name)} WITH IS_TEMPLATE true")
    summary["template"] = name
    summary["seconds"] = round(time.monotonic() - started, 1)
    log(f"{name}: built in {summary['seconds']:.0f} s: {json.dumps(summary)}")
    return summary


# --- check and info -----------------------------------------------------------------------------


def _snapshot(review) -> tuple[set, set, int]:
    from reviewapp.screening.constants import Stage
    from reviewapp.screening.models import RecordStageState, RecordVote, StageSettings

    states = set(
        RecordStageState.objects.filter(review=review).values_list(
            "record_id", "stage", "state", "n_votes", "queue_key"
        )
    )
    votes = set(
        RecordVote.objects.filter(review=review).values_list(
            "record_id", "stage", "reviewer_id", "value", "first_value", "decided_at"
        )
    )
    synced = StageSettings.objects.get(review=review, stage=Stage.TITLE_ABSTRACT).rows_synced_to
    return states, votes, synced


class _Rollback(Exception):
    pass


def _pending_ids(review, Stage, ScreenState, RetrievalStatus, Report) -> dict[str, list[int]]:
    """Ids of the records still in screening at each stage (the open PRISMA boxes)."""
    from reviewapp.screening.selectors import stage_states

    waiting_states = (
        ScreenState.UNSCREENED,
        ScreenState.AWAITING,
        ScreenState.CONFLICT,
        ScreenState.MAYBE,
    )
    not_retrieved = set(
        Report.objects.filter(
            review=review, retrieval_status=RetrievalStatus.NOT_RETRIEVED
        ).values_list("record_id", flat=True)
    )
    pending = {}
    for stage in Stage.values:
        waiting = [r for r, s in stage_states(review, stage).items() if s in waiting_states]
        if stage == Stage.FULL_TEXT:
            waiting = [r for r in waiting if r not in not_retrieved]
        pending[stage] = sorted(waiting)
    return pending


def check(*, sample: int = 4, seed: int = 0, password: bool = True, log=print) -> list[str]:
    """Problems found in the current database's benchmark data (empty: consistent).

    For the measured review and `sample` other reviews with screening rows (the smallest always
    among them): `stage_states_rebuild` (rolled back) reproduces exactly the stored states and
    votes. For every review: the PRISMA flow balances, the boxes still open being exactly the
    records pending screening. Duplicate links join records of their own review. The measured
    review's owner, analyst and 20 reviewers have a password the configured hashers accept.
    """
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from reviewapp.literature.models import DuplicateLink, Record
    from reviewapp.reporting.prisma import violations
    from reviewapp.reporting.selectors import prisma_counts_get, prisma_counts_recount
    from reviewapp.reviews.models import Review
    from reviewapp.screening.constants import RetrievalStatus, ScreenState, Stage
    from reviewapp.screening.models import RecordStageState, Report
    from reviewapp.screening.selectors import stage_states
    from reviewapp.screening.state import stage_states_rebuild

    problems: list[str] = []
    reviews = list(Review.objects.order_by("pk"))
    with_rows = [
        r
        for r in reviews
        if RecordStageState.objects.filter(review=r).exists() and r.slug != BENCH_SLUG
    ]
    rng = random.Random(seed)
    chosen = [r for r in reviews if r.slug == BENCH_SLUG]
    if with_rows:
        smallest = min(with_rows, key=lambda r: Record.objects.filter(review=r).count())
        rest = [r for r in with_rows if r != smallest]
        chosen += [smallest, *rng.sample(rest, min(max(0, sample - 1), len(rest)))]
    for review in chosen:
        before = _snapshot(review)
        try:
            with transaction.atomic():
                stage_states_rebuild(review)
                after = _snapshot(review)
                raise _Rollback
        except _Rollback:
            pass
        found = len(problems)
        for what, a, b in zip(("states", "votes", "rows_synced_to"), before, after, strict=True):
            if a != b:
                diff = (len(a - b), len(b - a)) if isinstance(a, set) else (a, b)
                problems.append(f"{review.slug}: stage_states_rebuild changes the {what}: {diff}")
        verdict = "reproduces" if len(problems) == found else "does NOT reproduce"
        log(f"  {review.slug}: stage_states_rebuild {verdict} its {len(before[0]):,} state rows")
    for review in reviews:
        counts = prisma_counts_recount(review)
        kept = prisma_counts_get(review)
        for box in (
            f for f in dataclasses.fields(counts) if f.name not in ("record_ids", "manual")
        ):
            if getattr(kept, box.name) != getattr(counts, box.name):
                problems.append(
                    f"{review.slug}: kept PRISMA count {box.name} = {getattr(kept, box.name)!r},"
                    f" the rows give {getattr(counts, box.name)!r}"
                )
        pending = _pending_ids(review, Stage, ScreenState, RetrievalStatus, Report)
        screened = set(counts.record_ids["records_screened"])
        # A review nobody has opened the queue of has no state rows: all its records wait.
        rowless = screened - set(stage_states(review, Stage.TITLE_ABSTRACT))
        ta_pending = (set(pending["ta"]) | rowless) & screened
        ft_pending = set(pending["ft"]) & set(counts.record_ids["dbr_assessed"])
        expected = {
            "screening": len(ta_pending),
            "eligibility": len(ft_pending),
        }
        for v in violations(counts):
            off = counts.records_screened - counts.records_excluded - counts.dbr_sought_reports
            if v.rule == "screening" and off == expected["screening"]:
                continue
            if v.rule == "eligibility":
                off = (
                    counts.dbr_assessed
                    + counts.other_assessed
                    - counts.dbr_excluded
                    - counts.other_excluded
                    - counts.new_reports
                )
                if off == expected["eligibility"]:
                    continue
            problems.append(f"{review.slug}: PRISMA {v.rule}: {v.numbers}")
        if not ta_pending and not ft_pending and violations(counts):
            problems.append(f"{review.slug}: nothing pending, yet the PRISMA flow does not add up")
    log(f"  PRISMA of {len(reviews)} reviews checked against the records still pending")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {DuplicateLink._meta.db_table} l "
            f"JOIN {Record._meta.db_table} d ON d.id = l.duplicate_id "
            f"JOIN {Record._meta.db_table} p ON p.id = l.primary_id "
            "WHERE d.review_id <> l.review_id OR p.review_id <> l.review_id"
        )
        crossing = cursor.fetchone()[0]
    if crossing:
        problems.append(f"{crossing} duplicate links join records of another review")
    log("  duplicate links checked: each joins two records of its own review")
    if password:
        User = get_user_model()
        names = [BENCH_OWNER, BENCH_ANALYST, *BENCH_REVIEWERS]
        users = list(User.objects.filter(username__in=names))
        if len(users) != len(names):
            problems.append(f"{len(names) - len(users)} bench users are missing")
        for user in users:
            if not user.check_password(PASSWORD):
                problems.append(f"{user.username} cannot log in with the bench password")
        log(f"  {len(users)} bench users' passwords checked with the configured hashers")
    return problems


def gunicorn_logins(url: str, usernames: list[str]) -> list[str]:
    """Log each user in through gunicorn run as in production (reviewapp/gunicorn_conf.py, DEBUG
    off, the production password hashers) on database `url`; the failures."""
    import http.client
    import secrets
    import signal
    import socket
    from urllib.parse import urlencode

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "reviewapp.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_HSTS_SECONDS": "0",
    }
    env.pop("REDIS_URL", None)
    # The production static storage needs its manifest: collected into bench/out as the
    # screening bench does.
    env["STATIC_ROOT"] = str(ROOT / "bench" / "out" / "static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    gunicorn = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--config",
            "python:reviewapp.gunicorn_conf",
            "reviewapp.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    failures = []
    try:
        for _ in range(300):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.2)
        for username in usernames:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", "/accounts/login/")
            response = conn.getresponse()
            response.read()
            cookies = {}
            for value in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                cookies[name.strip()] = rest.split(";", 1)[0]
            body = urlencode(
                {
                    "username": username,
                    "password": PASSWORD,
                    "csrfmiddlewaretoken": cookies.get("csrftoken", ""),
                }
            )
            conn.request(
                "POST",
                "/accounts/login/",
                body=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
                    "Referer": f"http://127.0.0.1:{port}/accounts/login/",
                },
            )
            response = conn.getresponse()
            response.read()
            if response.status != 302:
                failures.append(f"{username}: login through gunicorn answered {response.status}")
            conn.close()
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(30)
    return failures


def info() -> dict:
    """Sizes of the current database's benchmark data."""
    from django.db import connection

    from reviewapp.literature.models import DuplicateLink, Record
    from reviewapp.reviews.models import Review
    from reviewapp.screening.models import Decision, RecordStageState, RecordVote
    from reviewapp.synthesis.models import Analysis, AnalysisResult

    bench = Review.objects.filter(slug=BENCH_SLUG).first()
    out: dict = {
        "reviews": Review.objects.count(),
        "records": Record.objects.count(),
        "decisions": Decision.objects.count(),
        "duplicate_links": DuplicateLink.objects.count(),
        "state_rows": RecordStageState.objects.count(),
        "votes": RecordVote.objects.count(),
        "analyses": Analysis.objects.count(),
        "analysis_results": AnalysisResult.objects.count(),
        "bench_review": {
            "id": bench.pk if bench else None,
            "slug": BENCH_SLUG,
            "records": Record.objects.filter(review=bench).count() if bench else 0,
        },
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        out["database_size"] = cursor.fetchone()[0]
        cursor.execute(
            "SELECT c.relname, pg_size_pretty(pg_total_relation_size(c.oid)) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' "
            "ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 12"
        )
        out["largest_tables"] = dict(cursor.fetchall())
    return out


@contextmanager
def _temporary_clone(database: str | None, template: str) -> Iterator[str]:
    """The database to read: the one named, or a throwaway clone of the template (never the
    template itself: a connection to it would block everyone's clones)."""
    if database:
        yield url_of(database)
        return
    name = f"reviewapp_benchdb_check_{os.getpid()}"
    url = clone(name, "fresh", template=template)
    try:
        yield url
    finally:
        from django.db import connections

        connections.close_all()
        drop(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the template database")
    b.add_argument("--scale", type=float, default=1.0)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--reviews", type=int, default=50)
    c = sub.add_parser("clone", help="copy the template, migrate it, set its statistics")
    c.add_argument("name")
    c.add_argument("--stats", choices=["fresh", "missing"], required=True)
    c.add_argument("--template", default=TEMPLATE)
    d = sub.add_parser("drop", help="drop a database")
    d.add_argument("name")
    for cmd in ("info", "check"):
        p = sub.add_parser(cmd, help=f"{cmd} a clone (default: a throwaway clone of the template)")
        p.add_argument("name", nargs="?")
        p.add_argument("--template", default=TEMPLATE)
        if cmd == "check":
            p.add_argument("--sample", type=int, default=4)
            p.add_argument(
                "--gunicorn",
                action="store_true",
                help="also log the bench users in through gunicorn (production settings)",
            )
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            build(scale=args.scale, seed=args.seed, reviews=args.reviews)
        elif args.command == "clone":
            t0 = time.monotonic()
            url = clone(args.name, args.stats, template=args.template)
            print(f"{url} ({args.stats} statistics) in {time.monotonic() - t0:.1f} s")
        elif args.command == "drop":
            print(f"{args.name}: {'dropped' if drop(args.name) else 'did not exist'}")
        else:
            with _temporary_clone(args.name, args.template) as url:
                _django_setup(url)
                if args.command == "info":
                    print(json.dumps(info(), indent=2))
                else:
                    problems = check(sample=args.sample)
                    if args.gunicorn:
                        from django.db import connections

                        connections.close_all()
                        names = [BENCH_OWNER, BENCH_ANALYST, *BENCH_REVIEWERS]
                        problems += gunicorn_logins(url, names)
                        print(f"  gunicorn: {len(names)} log-ins tried")
                    for p in problems:
                        print("PROBLEM:", p)
                    print("consistent" if not problems else f"{len(problems)} problems")
                    return 1 if problems else 0
    except BenchDbError as exc:
        print(f"benchdb: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        # manage.py said what failed above (a migration of the checkout, usually).
        print(
            f"benchdb: {' '.join(map(str, exc.cmd))} failed (exit {exc.returncode})",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
