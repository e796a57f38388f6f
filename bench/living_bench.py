"""Benchmark a living review's scheduled update: 500 new records into a 100,000-record review
against the same update into a 5,000-record review (issue 16 point 5).

    .venv/bin/python bench/living_bench.py [--big 100000] [--small 5000] [--new 500] [--rounds 4] \
        [--database-url postgres://postgres@127.0.0.1:5432/reviewapp_living_bench] [--keep]

What it does, in order:

1. Creates a fresh database (`--database-url`; dropped at the end unless `--keep`) and migrates it
   with this checkout. (The realistic template of bench/benchdb.py takes ~20 minutes to build and
   this machine has none, so the bench makes its two reviews itself.)
2. Makes two reviews, `--big` and `--small` records, each from a stored PubMed search that ran
   earlier: the records are written by the app's own `records_add_parsed` (COPY, with their
   title/abstract screening rows and the duplicate index), with distinct PMIDs, DOIs and titles,
   then ANALYZE. The search is set to re-run daily.
3. Starts the fake E-utilities server (tests/fake_eutils.py) on 127.0.0.1; the real Bio.Entrez
   client talks to it over HTTP with no rate limit.
4. Each round, for each review: PubMed (the fake) has entered `--new` records for the query on a
   new day; beat's service `living_due_queue` finds the search due and queues one update; the
   update runs with `search_run` in this process, as the worker runs it: esearch with
   datetype=edat from the last run, efetch of the new records, PMIDs checked against the review,
   duplicate candidates looked up, records and their screening rows written, the version and its
   PRISMA boxes made, one transaction. Wall time from the due check to the commit.
5. The reference, in the same run: the same update run the way a manual re-run works (the whole
   review's duplicate index and the lineage's PMIDs read first), once per review; and a fixed
   CPU workload (lxml parsing the 500-record efetch reply, 5 times) for the machine's speed.

The fake serves three recorded PubMed articles, cycled, each with its own PMID: the new records
share DOIs and titles among themselves (most are linked as duplicates of each other), never with
the review's generated records.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/reviewapp_living_bench"
QUERY = "natalizumab AND (discontinuation OR withdrawal)"
WORDS = [
    "natalizumab",
    "discontinuation",
    "relapse",
    "rebound",
    "multiple",
    "sclerosis",
    "cohort",
    "trial",
    "washout",
    "fingolimod",
    "ocrelizumab",
    "rituximab",
    "disease",
    "activity",
    "lesion",
    "magnetic",
    "resonance",
    "imaging",
    "progressive",
    "leukoencephalopathy",
    "risk",
    "extended",
    "interval",
    "dosing",
    "switching",
    "outcome",
    "registry",
    "observational",
    "randomised",
    "pregnancy",
    "safety",
    "efficacy",
    "biomarker",
    "neurofilament",
    "disability",
]


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def database_fresh(url: str) -> None:
    import psycopg2

    admin, name = _admin_url(url)
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    env = {**_django_env(), "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def _django_env() -> dict[str, str]:
    """Production settings (DEBUG off), no Redis: progress in local memory, nothing queued."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_DEBUG"}}
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(48))
    env["DJANGO_DEBUG"] = "0"
    env["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    return env


def database_drop(url: str) -> None:
    import psycopg2

    admin, name = _admin_url(url)
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.close()


def _title(i: int) -> str:
    # Distinct titles (and title keys) from a fixed mix of words and the record's number.
    words = [WORDS[(i * k + k * k) % len(WORDS)] for k in range(1, 8)]
    return f"{' '.join(words).capitalize()} study {i}"


def review_fill(review, n: int, first_pmid: int, *, log) -> object:
    """A review holding `n` records from one stored search that ran well ten days ago."""
    from django.db import connection, transaction
    from django.utils import timezone

    from reviewapp.literature import matching
    from reviewapp.literature.bulk import BulkWriter
    from reviewapp.literature.constants import JobStatus
    from reviewapp.literature.models import Search
    from reviewapp.literature.parsers.base import ParsedRecord
    from reviewapp.literature.services import (
        records_add_parsed,
        records_added_finish,
        records_counted,
    )

    root = Search.objects.create(
        review=review,
        query=QUERY,
        status=JobStatus.DONE,
        run_at=timezone.now() - dt.timedelta(days=10),
    )
    index = matching.DuplicateIndex()
    index.last_number = 0
    started = time.monotonic()
    with transaction.atomic(), BulkWriter() as writer:
        top = 0
        for start in range(0, n, 5000):
            parsed = [
                ParsedRecord(
                    position=i + 1,
                    title=_title(first_pmid + i),
                    pmid=str(first_pmid + i),
                    doi=f"10.5555/bench.{first_pmid + i}",
                    authors=[f"Author{(i * 7) % 9973}, A"],
                    journal="Multiple Sclerosis Journal",
                    year=1990 + i % 35,
                    abstract="Background. "
                    + " ".join(WORDS[(i + k) % len(WORDS)] for k in range(60)),
                )
                for i in range(start, min(n, start + 5000))
            ]
            ids, _links = records_add_parsed(
                review=review, parsed=parsed, index=index, writer=writer, search=root
            )
            top = max([top, *ids])
    with transaction.atomic():
        records_counted(review=review, n=n, search=root)
        records_added_finish(review=review, top=top, added=n)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    Search.objects.filter(pk=root.pk).update(count_new=n, count_retrieved=n)
    log(f"  {review.slug}: {n:,} records in {time.monotonic() - started:.1f} s")
    return root


def reference_parse(xml: bytes, times: int = 5) -> float:
    from io import BytesIO

    from lxml import etree

    started = time.perf_counter()
    for _ in range(times):
        for _event, element in etree.iterparse(BytesIO(xml), tag="PubmedArticle"):
            element.clear()
    return time.perf_counter() - started


def run(args) -> dict:
    os.environ.clear()
    os.environ.update(_django_env())
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from reviewapp.integrations.entrez import PubMedClient, RateLimiter
    from reviewapp.literature import living
    from reviewapp.literature.constants import JobStatus, LivingSchedule
    from reviewapp.literature.living import living_due_queue
    from reviewapp.literature.models import Record, Search
    from reviewapp.literature.searches import search_run
    from reviewapp.reviews.services import review_create
    from tests.fake_eutils import running_fake_eutils

    # This process plays the worker: the due check queues the update's row and this process
    # runs it with search_run, as the worker's task would, with a client on the fake server.
    living.job_enqueue = lambda job, **kwargs: None
    log = print
    owner = get_user_model().objects.create_user("bench-owner", "owner@example.org", "x")
    reviews = {
        "big": review_create(title="Living bench, big", owner=owner, slug="living-big"),
        "small": review_create(title="Living bench, small", owner=owner, slug="living-small"),
    }
    log("filling the reviews")
    roots = {
        "big": review_fill(reviews["big"], args.big, 1_000_000, log=log),
        "small": review_fill(reviews["small"], args.small, 5_000_000, log=log),
    }
    for root in roots.values():
        Search.objects.filter(pk=root.pk).update(schedule=LivingSchedule.DAILY)

    results: dict[str, list[float]] = {"big": [], "small": []}
    full_path: dict[str, float] = {}
    reference: list[float] = []
    today = timezone.now().date()
    with running_fake_eutils() as fake:

        def client() -> PubMedClient:
            return PubMedClient(
                email="bench@example.org",
                base_url=fake.base_url,
                sleep=lambda seconds: None,
                rate_limiter=RateLimiter(0),
                timeout=30,
            )

        per_day: dict[dt.date, int] = {today - dt.timedelta(days=400): 1}
        for round_number in range(args.rounds + 1):
            # Each round PubMed has entered `--new` records on a day of its own, three days
            # after the last; the stored search last ran on that day, so the update is due.
            day = today + dt.timedelta(days=3 * (round_number + 1))
            per_day[day] = args.new
            fake.script_search(QUERY, per_day)
            for name in ("small", "big"):
                root = roots[name]
                # Only the measured review's search is on a schedule this turn.
                Search.objects.filter(pk__in=[r.pk for r in roots.values()]).update(
                    schedule=LivingSchedule.OFF
                )
                Search.objects.filter(pk=root.pk).update(schedule=LivingSchedule.DAILY)
                before = Record.objects.filter(review=reviews[name]).count()
                moment = dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC)
                # The last good run was on the new records' day (ignoring later real runs'
                # clock), so the update asks for them and no earlier day's.
                Search.objects.filter(rerun_of=root).update(run_at=moment - dt.timedelta(days=1))
                Search.objects.filter(pk=root.pk).update(run_at=moment)
                last_round = round_number == args.rounds
                started = time.perf_counter()
                if last_round:
                    # The reference path: a manual re-run, which reads the whole review first.
                    from reviewapp.literature.searches import search_rerun
                    from reviewapp.reviews.models import Membership

                    membership = Membership.objects.get(review=reviews[name], user=owner)
                    run_search = search_rerun(membership=membership, search=root)
                    Search.objects.filter(pk=run_search.pk).update(
                        query=QUERY,
                        mindate=(day - dt.timedelta(days=1)).strftime("%Y/%m/%d"),
                        maxdate="",
                        datetype="edat",
                    )
                    queued = [run_search.pk]
                else:
                    queued = living_due_queue(now=moment + dt.timedelta(days=2))
                assert len(queued) == 1, queued
                done = search_run(search_id=queued[0], client=client())
                took = time.perf_counter() - started
                after = Record.objects.filter(review=reviews[name]).count()
                assert done.status == JobStatus.DONE, done.error_detail
                assert after - before == args.new, (name, before, after)
                if last_round:
                    full_path[name] = took
                elif round_number > 0:  # the first round warms caches and connections
                    results[name].append(took)
                log(
                    f"  round {round_number} {name}: {took:.2f} s"
                    f"{' (manual re-run path)' if last_round else ''}, {after:,} records"
                )
            if 0 < round_number < args.rounds:
                reply = fake._efetch(
                    {"WebEnv": list(fake._history)[-1][0], "query_key": "1", "retmax": "500"}
                )[1]
                reference.append(reference_parse(reply))
        connection.close()
    return {
        "results": results,
        "full_path": full_path,
        "reference": reference,
        "big": args.big,
        "small": args.small,
        "new": args.new,
    }


def report(data: dict, args) -> str:
    ref = statistics.median(data["reference"])
    big = statistics.median(data["results"]["big"])
    small = statistics.median(data["results"]["small"])
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [
        f"Date: {dt.date.today().isoformat()}; machine: {platform.machine()}, {os.cpu_count()} CPUs"
        f" ({cpu}), Python {platform.python_version()}, PostgreSQL on 127.0.0.1.",
        "",
        f"| review | records before | scheduled update, {data['new']} new (median of "
        f"{len(data['results']['big'])}) | / reference | manual re-run path (once) |",
        "|---|---:|---:|---:|---:|",
        f"| big | {data['big']:,} | {big:.2f} s | {big / ref:.1f} | {data['full_path']['big']:.2f} s |",
        f"| small | {data['small']:,} | {small:.2f} s | {small / ref:.1f} | "
        f"{data['full_path']['small']:.2f} s |",
        "",
        f"Reference (lxml parse of the 500-record efetch reply, 5 times), median: {ref:.3f} s.",
        f"Big / small, scheduled update: {big / small:.2f} (the review is "
        f"{data['big'] / data['small']:.0f}x larger); manual re-run path: "
        f"{data['full_path']['big'] / data['full_path']['small']:.2f}.",
        "",
        "Each round's times: "
        + json.dumps({k: [round(t, 2) for t in v] for k, v in data["results"].items()}),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--new", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres://postgres@127.0.0.1"):
        parser.error("only a database on 127.0.0.1 is used (it is dropped and made again)")
    print(f"making {args.database_url}")
    database_fresh(args.database_url)
    try:
        data = run(args)
    finally:
        if not args.keep:
            database_drop(args.database_url)
    print()
    print(report(data, args))


if __name__ == "__main__":
    main()
