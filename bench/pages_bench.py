"""Pages that show a review's counts, on the realistic database (issue 13, item 4).

    .venv/bin/python bench/pages_bench.py [--stats fresh missing] [--rounds 30]

For each statistics mode (--stats): clones the realistic benchmark database (bench/benchdb.py:
50 reviews, about 1,000,000 records; the measured review `bench` has 100,000 records and 20
reviewers) with statistics "fresh" (ANALYZEd) or "missing" (never analyzed, autovacuum off),
migrated by this checkout; starts Redis-backed gunicorn with reviewapp/gunicorn_conf.py (sessions
and cache in Redis, as in production, in a Redis database of its own that is emptied first) and a
Celery worker; logs in through the login page as the review's owner, a reviewer with votes still
due and the analyst; then requests every page of PAGES (below) as each of its roles, --rounds
times, one request at a time, with the cheap reference URL /healthz/live measured in the same
rounds. The very first request of each page is part of the figures (a cold cache after the
clone is what a real server sees first).

Reported per page and statistics mode: the first request, p50, p95 and max in ms over all roles
and rounds, the bytes of the answer, and the number of SQL queries the page runs for each role
(counted afterwards in-process with Django's test client on the same database). The PRISMA
diagram and its exports exist only for a flow that adds up, so they are measured on the largest
finished review of the database (rows with review="done"). The database is dropped at the end.
Results: bench/out/pages.md (copy the figures into BENCHMARKS.md).

Another bench adds its pages by adding rows to PAGES.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.common import (  # noqa: E402
    Client,
    free_port,
    gunicorn_argv,
    machine,
    server_env,
    stop,
    wait_until_up,
)

PY = sys.executable
BIN = Path(PY).parent
OUT = ROOT / "bench" / "out"

ALL = ("owner", "reviewer", "analyst")


@dataclass(frozen=True)
class Page:
    """One page to measure: a label, its URL name and the arguments after the review's slug, a
    query string, and the roles that ask for it (each must be allowed to see it)."""

    label: str
    url_name: str
    args: tuple[str, ...] = ()
    query: str = ""
    roles: tuple[str, ...] = ALL
    # "bench": the 100,000-record review, screening under way; "done": the largest review whose
    # flow adds up (screening finished), where the PRISMA diagram and its exports exist.
    review: str = "bench"


# The pages measured. Add a row to measure another page of the `bench` review.
PAGES: list[Page] = [
    Page("dashboard", "reviews:review-detail"),
    Page("PRISMA page", "reporting:prisma-detail"),
    Page("PRISMA page, finished review", "reporting:prisma-detail", roles=("owner",), review="done"),
    Page("PRISMA export svg", "reporting:prisma-export", ("svg",), roles=("owner",), review="done"),
    Page("PRISMA export png", "reporting:prisma-export", ("png",), roles=("owner",), review="done"),
    Page("PRISMA export pdf", "reporting:prisma-export", ("pdf",), roles=("owner",), review="done"),
    Page("PRISMA export csv", "reporting:prisma-export", ("csv",), roles=("owner",), review="done"),
    Page("PRISMA export json", "reporting:prisma-export", ("json",), roles=("owner",), review="done"),
    Page("PRISMA box: excluded at ft, finished review", "reporting:prisma-box", ("dbr_excluded",), roles=("owner",), review="done"),
    Page("PRISMA page, living version (500 records)", "reporting:prisma-detail", query="version=2"),
    Page("PRISMA box: records screened", "reporting:prisma-box", ("records_screened",)),
    Page("PRISMA box: screened, later page", "reporting:prisma-box", ("records_screened",), "after=@mid"),
    Page("PRISMA box: excluded at t/a", "reporting:prisma-box", ("records_excluded",)),
    Page("PRISMA box: sought at full text", "reporting:prisma-box", ("dbr_sought_reports",)),
    Page("PRISMA box: duplicates", "reporting:prisma-box", ("duplicates",)),
    Page("screening progress t/a", "screening:screen-progress", ("ta",), roles=("owner", "reviewer")),
    Page("screening progress ft", "screening:screen-progress", ("ft",), roles=("owner", "reviewer")),
    Page("conflicts t/a", "screening:conflict-list", ("ta",)),
    Page("conflicts t/a, later page", "screening:conflict-list", ("ta",), "after=@mid"),
    Page("conflicts ft", "screening:conflict-list", ("ft",)),
    Page("agreement CSV", "screening:agreement-csv"),
    Page("API review detail", "api:review-detail"),
    Page("API PRISMA", "api:prisma"),
    Page("API PRISMA, finished review", "api:prisma", roles=("owner",), review="done"),
]  # fmt: skip
REFERENCE = "/healthz/live"

SLUG = "bench"
USERS = {"owner": "bench-owner", "reviewer": "bench-r0", "analyst": "bench-analyst"}
HTMX = {"screening:screen-progress"}  # asked for by the page's htmx poll


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- in-process part: URLs and query counts (run in a child with the clone's settings) ---------


def _django(env_url: str) -> None:
    os.environ["DATABASE_URL"] = env_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    import django

    django.setup()


def _done_review():
    """The largest review whose PRISMA flow adds up, and its owner's username."""
    from django.db.models import Count

    from reviewapp.reporting.prisma import violations
    from reviewapp.reporting.selectors import prisma_counts_get
    from reviewapp.reviews.models import Membership, Review

    for review in Review.objects.annotate(n=Count("records")).order_by("-n")[:30]:
        if not violations(prisma_counts_get(review)):
            owner = Membership.objects.filter(review=review, role="owner").first()
            if owner is not None:
                return review, owner.user.username
    raise SystemExit("no review of the database has a PRISMA flow that adds up")


def _living_version(review) -> None:
    """The bench review's last 500 records as version 2 of a living review, as a scheduled
    update leaves them (the template has no living search); version 1 is everything before.
    Idempotent: both children of a run call it on the same clone."""
    from django.db.models import Max

    from reviewapp.literature.models import LivingVersion

    last = review.records.aggregate(n=Max("number"))["n"]
    LivingVersion.objects.get_or_create(
        review=review, number=1, defaults={"first_number": 1, "last_number": last - 500}
    )
    LivingVersion.objects.get_or_create(
        review=review, number=2, defaults={"first_number": last - 499, "last_number": last}
    )


def _paths() -> dict:
    """Each page's path; "@mid" in a query is a record id halfway through the review; and the
    username of each role on each review."""
    from django.urls import reverse

    from reviewapp.literature.models import Record
    from reviewapp.reviews.models import Review

    reviews = {"bench": Review.objects.get(slug=SLUG)}
    if any("version=" in page.query for page in PAGES):
        _living_version(reviews["bench"])
    users = {"bench": dict(USERS)}
    if any(page.review == "done" for page in PAGES):
        done, owner = _done_review()
        reviews["done"], users["done"] = done, {"owner": owner}
    paths = {}
    for page in PAGES:
        review = reviews[page.review]
        path = reverse(page.url_name, args=[review.slug, *page.args])
        if page.query:
            ids = Record.objects.filter(review=review).order_by("id").values_list("id", flat=True)
            path += "?" + page.query.replace("@mid", str(ids[ids.count() // 2]))
        paths[page.label] = path
    sizes = {key: review.records.count() for key, review in reviews.items()}
    slugs = {key: review.slug for key, review in reviews.items()}
    return {"paths": paths, "users": users, "records": sizes, "slugs": slugs}


def child_paths(url: str) -> None:
    _django(url)
    print(json.dumps(_paths()))


def child_queries(url: str) -> None:
    """The number of SQL queries of each page for each of its roles (test client, in-process)."""
    _django(url)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext

    found = _paths()
    paths = found["paths"]
    out: dict[str, dict[str, int]] = {}
    for page in PAGES:
        for role in page.roles:
            client = TestClient()
            username = found["users"][page.review][role]
            client.force_login(get_user_model().objects.get(username=username))
            headers = {"HTTP_HX_REQUEST": "true"} if page.url_name in HTMX else {}
            client.get(paths[page.label], **headers)  # the session, once
            with CaptureQueriesContext(connection) as captured:
                response = client.get(paths[page.label], **headers)
            if response.status_code != 200:
                raise SystemExit(f"{page.label} as {role}: HTTP {response.status_code}")
            out.setdefault(page.label, {})[role] = len(captured)
    print(json.dumps(out))


# --- the run -------------------------------------------------------------------------------------


def _child(kind: str, env: dict) -> dict:
    result = subprocess.run(
        [PY, __file__, f"--child-{kind}", env["DATABASE_URL"]],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode:
        raise RuntimeError(f"{kind} child failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(stats: str, args, template: str | None) -> dict:
    from bench import benchdb

    db = f"reviewapp_counts_pages_{stats}"
    t = time.perf_counter()
    kwargs = {"template": template} if template else {}
    url = benchdb.clone(db, stats, **kwargs)
    clone_s = time.perf_counter() - t
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    env = server_env(
        static_root=OUT / "static",
        media_root=OUT / "media",
        allowed_hosts="127.0.0.1,localhost,testserver",
        DATABASE_URL=url,
        REDIS_URL=args.redis_url,
    )
    gunicorn = worker = None
    samples: dict[str, list[float]] = {p.label: [] for p in PAGES}
    first: dict[str, float] = {}
    sizes: dict[str, int] = {}
    errors: list[str] = []
    reference: list[float] = []
    try:
        found = _child("paths", env)
        paths = found["paths"]
        subprocess.run(
            [PY, "manage.py", "collectstatic", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        port = free_port()
        log = open(OUT / f"pages-gunicorn-{stats}.log", "w")  # noqa: SIM115
        gunicorn = subprocess.Popen(
            # Other benches may run a gunicorn of their own: no shared control socket.
            gunicorn_argv(port, "--no-control-socket"),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "reviewapp",
                "worker",
                "--concurrency=1",
                "-n",
                f"pages-{uuid.uuid4().hex[:6]}@bench",
                "--without-gossip",
                "--without-mingle",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=open(OUT / f"pages-worker-{stats}.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_up(Client, port, REFERENCE)
        clients: dict[str, Client] = {}
        for users in found["users"].values():
            for username in users.values():
                if username not in clients:
                    clients[username] = Client(port)
                    clients[username].login(username)
        ref_client = clients[USERS["owner"]]
        for _ in range(args.rounds):
            for page in PAGES:
                headers = {"HX-Request": "true"} if page.url_name in HTMX else {}
                for role in page.roles:
                    t = time.perf_counter()
                    client = clients[found["users"][page.review][role]]
                    status, body = client.request("GET", paths[page.label], headers=headers)
                    ms = 1000 * (time.perf_counter() - t)
                    if status != 200:
                        errors.append(f"{page.label} as {role}: HTTP {status}")
                        continue
                    first.setdefault(page.label, ms)
                    samples[page.label].append(ms)
                    sizes[page.label] = max(sizes.get(page.label, 0), len(body))
                t = time.perf_counter()
                ref_client.request("GET", REFERENCE)
                reference.append(1000 * (time.perf_counter() - t))
    finally:
        stop(gunicorn)
        stop(worker)
    queries = _child("queries", env)
    if not args.keep:
        benchdb.drop(db)
    return {
        "stats": stats,
        "clone_s": clone_s,
        "samples": samples,
        "first": first,
        "sizes": sizes,
        "errors": errors,
        "reference": reference,
        "queries": queries,
        "reviews": {k: (found["slugs"][k], found["records"][k]) for k in found["slugs"]},
    }


def describe(result: dict, rounds: int) -> list[str]:
    ref = result["reference"]
    ref_p50 = statistics.median(ref) if ref else float("nan")
    lines = [
        f"#### statistics {result['stats']}",
        "",
        f"Clone and migrate (this checkout's migrations, the counts backfill included): "
        f"{result['clone_s']:.0f} s. {rounds} rounds; reference {REFERENCE}: p50 {ref_p50:.1f} ms, "
        f"p95 {pct(ref, 95):.1f} ms, max {max(ref, default=float('nan')):.1f} ms "
        f"(n = {len(ref)}). Reviews: "
        + "; ".join(
            f"{key} = `{slug}`, {n:,} records" for key, (slug, n) in result["reviews"].items()
        )
        + ".",
        "",
        "| page | review | roles | n | first ms | p50 ms | p95 ms | max ms | p95 / reference p50 | "
        "queries | KB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for page in PAGES:
        values = result["samples"][page.label]
        if not values:
            lines.append(f"| {page.label} | {page.review} | {', '.join(page.roles)} | 0 |||||||")
            continue
        q = result["queries"].get(page.label, {})
        qtext = "/".join(str(q[r]) for r in page.roles if r in q)
        lines.append(
            f"| {page.label} | {page.review} | {', '.join(page.roles)} | {len(values)} | "
            f"{result['first'][page.label]:.0f} | {statistics.median(values):.1f} | "
            f"{pct(values, 95):.1f} | {max(values):.1f} | {pct(values, 95) / ref_p50:.0f}x | "
            f"{qtext} | {result['sizes'][page.label] / 1024:.1f} |"
        )
    over = [
        p.label
        for p in PAGES
        if result["samples"][p.label] and pct(result["samples"][p.label], 95) >= 300
    ]
    lines += [
        "",
        f"Errors: {len(result['errors'])}"
        + (f" ({'; '.join(sorted(set(result['errors']))[:5])})" if result["errors"] else "")
        + ". Pages at or over the 300 ms p95 target: "
        + (", ".join(over) if over else "none")
        + ".",
        "",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--stats", nargs="+", choices=["fresh", "missing"], default=["fresh", "missing"]
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--template", default=None, help="another benchdb template (development)")
    parser.add_argument("--keep", action="store_true", help="keep the cloned databases")
    parser.add_argument("--out", default=str(OUT / "pages.md"))
    parser.add_argument("--child-paths", metavar="URL")
    parser.add_argument("--child-queries", metavar="URL")
    args = parser.parse_args()
    if args.child_paths:
        child_paths(args.child_paths)
        return 0
    if args.child_queries:
        child_queries(args.child_queries)
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    results = [measure(stats, args, args.template) for stats in args.stats]
    lines = [
        f"Run {started.isoformat()} on {machine()}. Database: a clone of "
        f"{args.template or 'the realistic benchmark database (bench/benchdb.py)'}; gunicorn "
        "with reviewapp/gunicorn_conf.py, Redis (sessions, cache) and a Celery worker; one "
        "request at a time; owner = bench-owner, reviewer = bench-r0, analyst = bench-analyst. "
        "Queries: per role, in the order of the roles column.",
        "",
    ]
    for result in results:
        lines += describe(result, args.rounds)
    text = "\n".join(lines)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
