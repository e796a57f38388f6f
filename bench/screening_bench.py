"""Screening under load: 20 reviewers at once on the realistic benchmark database, through gunicorn.

    .venv/bin/python bench/screening_bench.py [--stats fresh|missing|both] [--duration 60]

What it does, all on this machine (loopback only, nothing from the internet):
1. clones the realistic benchmark database of issue 13 (bench/benchdb.py: 50 reviews, about
   1,000,000 records; the measured review, slug `bench`, has 100,000 records, 20 reviewers, dual
   independent blinded screening, 15% of it done) as reviewapp_screening_bench, migrated by this
   checkout, with fresh statistics (ANALYZE) or with them missing (never analyzed, autovacuum
   off): --stats both runs everything once per condition, each on its own clone;
2. starts gunicorn with the production settings (reviewapp/gunicorn_conf.py) on 127.0.0.1 and a
   Celery worker, with sessions, the cache and the broker in Redis as in production
   (--redis-url; its database is emptied first); both are stopped at the end, and bounded by a
   timeout whatever happens;
3. runs two profiles for --duration seconds each, every reviewer in its own thread with its own
   logged-in session:
   - "paced": each reviewer reads for 2-4 s before each decision ("one decision every few
     seconds", as the issue describes screeners), and joins at a random moment within one pause;
     the p95 targets (25 ms next record, 40 ms decision) are judged here;
   - "flat out": no pause at all, all starting at once: the most the server can be asked
     (capacity, in decisions a second; target 60);
   each loop asks for the next record (GET, as the page's htmx/fetch does) and records a decision
   (POST, which answers with the next records); 5% of decisions are sent twice with the same
   client token, as a network retry would;
4. reports p50/p95/p99 of both requests, the errors, and checks that the decisions the server
   acknowledged equal the Decision rows stored (retries must not add rows);
5. writes bench/out/screening.md with the date, the machine, the database and its statistics,
   and /healthz latency measured through the same gunicorn in the same run as the reference;
   drops the clone (--keep keeps it).

PGHOST/PGPORT/PGUSER select the server (default 127.0.0.1:5432, postgres). --profiles paced runs
one profile alone; --template names another template database (e.g. a smaller benchdb build).
Other bench scripts (bench/scaleout_bench.py) import Client, reviewer_loop, Tally, health_loop,
pct, run_profile and describe from here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench import common  # noqa: E402
from bench.common import (  # noqa: E402  (PASSWORD and machine: other benches import them from here)
    PASSWORD,
    free_port,
    gunicorn_argv,
    machine,
    server_env,
    wait_until_up,
)

PY = sys.executable
DB = "reviewapp_screening_bench"
SLUG = "bench"


def pg_url(name: str) -> str:
    host = os.environ.get("PGHOST", "127.0.0.1")
    port = os.environ.get("PGPORT", "5432")
    user = os.environ.get("PGUSER", "postgres")
    return f"postgres://{user}@{host}:{port}/{name}"


def admin_sql(*statements: str) -> None:
    import psycopg2

    conn = psycopg2.connect(pg_url("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


def build(env: dict, n_records: int, n_reviewers: int) -> None:
    """Migrate a fresh, empty database and fill it with one review alone (in a child process with
    the bench settings). Not what this bench measures on (a clone of the realistic database):
    kept for scripts that build their own small database, such as scaleout_bench.py."""
    subprocess.run(
        [PY, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    subprocess.run(
        [PY, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    code = f"""
import django, time
django.setup()
from django.contrib.auth import get_user_model
from reviewapp.literature.models import Import, Record
from reviewapp.reviews.models import Membership
from reviewapp.reviews.services import review_create
from reviewapp.screening.state import state_rows_sync
User = get_user_model()
owner = User.objects.create_user("bench-owner", password={PASSWORD!r})
review = review_create(title="Benchmark review", slug={SLUG!r}, owner=owner)
review.keywords_include = ["random*", "natalizumab"]; review.keywords_exclude = ["mice"]; review.save()
for i in range({n_reviewers}):
    u = User.objects.create_user(f"bench-r{{i}}", password={PASSWORD!r})
    Membership.objects.create(review=review, user=u, role="reviewer")
imp = Import.objects.create(review=review, file_name="bench.ris", format="ris", status="done")
words = "randomised controlled trial natalizumab relapse disease activity cohort mice rebound".split()
batch = []
for i in range({n_records}):
    batch.append(Record(review=review, source_import=imp, source_position=i + 1,
        title=f"Record {{i}}: " + " ".join(words[(i + k) % len(words)] for k in range(8)),
        abstract=" ".join(words[(i * 7 + k) % len(words)] for k in range(180)),
        authors=["Smith J", "Lee K"], journal="J Bench", year=2000 + i % 25))
    if len(batch) == 5000:
        Record.objects.bulk_create(batch); batch = []
Record.objects.bulk_create(batch)
t = time.perf_counter()
state_rows_sync(review)
print(f"state rows for {{Record.objects.filter(review=review).count()}} records in {{time.perf_counter()-t:.1f}} s")
"""
    subprocess.run([PY, "-c", code], cwd=ROOT, env=env, check=True)
    subprocess.run(
        ["psql", pg_url(DB), "-q", "-c", "VACUUM ANALYZE"], check=False, capture_output=True
    )


class Client(common.Client):
    """One reviewer's browser; its answers are read as text (the screening pages' HTML)."""

    timeout = 30

    def request(self, method: str, path: str, body: dict | None = None, headers=None):
        status, payload = super().request(method, path, body, headers)
        return status, payload.decode("utf-8", "replace")


RECORD = re.compile(r'class="screen-current">\s*<div class="record-panel" data-record-id="(\d+)"')
PREFETCHED = re.compile(
    r'<template class="screen-prefetch">\s*<div class="record-panel" data-record-id="(\d+)"'
)


@dataclass
class Tally:
    next_ms: list[float] = field(default_factory=list)
    decide_ms: list[float] = field(default_factory=list)
    health_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    acknowledged: int = 0  # distinct client tokens the server answered 200 to
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def reviewer_loop(client: Client, stop: float, pause: tuple[float, float], tally: Tally, seed: int):
    rng = random.Random(seed)
    screen = f"/reviews/{SLUG}/screen/ta/"
    hx = {"HX-Request": "true"}
    # Paced reviewers join at random moments within one pause, as reviewers already at work
    # are spread out, instead of all twenty asking for a record in the same millisecond.
    time.sleep(rng.uniform(0, pause[1]))
    while time.perf_counter() < stop:
        t = time.perf_counter()
        try:
            status, html = client.request("GET", screen, headers=hx)
        except Exception as exc:
            tally.errors.append(f"next: {exc!r}")
            continue
        elapsed = (time.perf_counter() - t) * 1000
        match = RECORD.search(html)
        with tally.lock:
            tally.next_ms.append(elapsed)
            if status != 200 or not match:
                tally.errors.append(f"next: HTTP {status}{'' if match else ', no record'}")
                continue
        if pause[1]:
            time.sleep(rng.uniform(*pause))
        record_id = match.group(1)
        # As static/js/screening.js does: the prefetched record goes on screen at once and the
        # decision says so, so the answer carries that record as an id, not rendered again.
        prefetched = PREFETCHED.search(html)
        token = str(uuid.uuid4())
        body = {
            "value": rng.choices(["include", "exclude", "maybe"], [25, 70, 5])[0],
            "client_token": token,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        }
        headers = {**hx, "X-CSRFToken": client.cookies["csrftoken"]}
        if prefetched:
            headers["X-Screen-Showing"] = prefetched.group(1)
        path = f"/reviews/{SLUG}/screen/ta/{record_id}/decide/"
        sends = 2 if rng.random() < 0.05 else 1
        for n in range(sends):
            t = time.perf_counter()
            try:
                status, _ = client.request("POST", path, body, headers=headers)
            except Exception as exc:
                tally.errors.append(f"decide: {exc!r}")
                continue
            elapsed = (time.perf_counter() - t) * 1000
            with tally.lock:
                tally.decide_ms.append(elapsed)
                if status != 200:
                    tally.errors.append(f"decide: HTTP {status}")
                elif n == 0:
                    tally.acknowledged += 1
                else:
                    tally.retries += 1


def health_loop(port: int, stop: float, tally: Tally):
    client = Client(port)
    while time.perf_counter() < stop:
        t = time.perf_counter()
        status, _ = client.request("GET", "/healthz")
        with tally.lock:
            tally.health_ms.append((time.perf_counter() - t) * 1000)
            if status != 200:
                tally.errors.append(f"healthz: HTTP {status}")
        time.sleep(0.1)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


def decisions_stored(url: str | dict) -> int:
    """Decision rows in the database at `url` (anything else, e.g. an env dict as callers passed
    before: the database named DB)."""
    import psycopg2

    conn = psycopg2.connect(url if isinstance(url, str) else pg_url(DB))
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM screening_decision")
        (n,) = cur.fetchone()
    conn.close()
    return n


def cpu_split(gunicorn_pid: int, database: str = DB, worker_pid: int = 0) -> dict[str, float]:
    """CPU seconds used so far: the whole machine, gunicorn's workers, PostgreSQL's processes
    (every database: other work on the machine shows there too), of which the backends serving
    `database`, and this load generator. Per process, as {"pid:<n>": (group, seconds)} too:
    `cpu_used` subtracts per process, so a process that exits in between (another helper's
    PostgreSQL backend) cannot make a group's figure negative.

    "machine" counts user, nice, system, irq and softirq time: not steal (time a virtual
    machine's hypervisor gave to someone else, which earlier runs counted as used) nor guest
    (already inside user). The Celery worker (with its pool children), Redis, the kernel's
    interrupt handling, steal and every other process are groups of their own, and a process's
    figure includes its children that have exited, so "anything else" is only what a process
    that exited meanwhile used before its parent collected it, and rounding (negative when a
    child that ran mostly before the profile exits during it: its whole life is counted).
    """
    tick = os.sysconf("SC_CLK_TCK")
    split: dict = {
        "machine": 0.0,
        "gunicorn": 0.0,
        "postgresql": 0.0,
        "load generator": 0.0,
        "celery worker": 0.0,
        "redis": 0.0,
        "other processes": 0.0,
        THIS_DATABASE: 0.0,
    }
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    split["machine"] = (user + nice + system + irq + softirq) / tick
    split[KERNEL_INTERRUPTS] = (irq + softirq) / tick
    split[STEAL] = steal / tick
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2 :].split()
        # utime + stime, and cutime + cstime: what its children that have exited used (a
        # PostgreSQL backend that closed, a test run that ended), else uncounted anywhere.
        used = sum(int(v) for v in rest[11:15]) / tick
        group = None
        if gunicorn_pid in (int(entry.name), int(rest[1])):  # the arbiter, or a worker
            group = "gunicorn"
        elif comm.startswith("postgres") or comm.startswith("postmaster"):
            group = "postgresql"
            try:
                # A backend's title: "postgres: [<cluster>:] <user> <database> <client> <state>".
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").split()[:5]
            except OSError:
                title = []
            if database.encode() in title:
                group = THIS_DATABASE
        elif int(entry.name) == os.getpid():
            group = "load generator"
        elif worker_pid and worker_pid in (int(entry.name), int(rest[1])):
            group = "celery worker"
        elif comm.startswith("redis-server"):
            group = "redis"
        else:
            # Kernel threads (softirq, writeback) and whatever else runs on the machine.
            group = "other processes"
        split[f"pid:{entry.name}"] = (group, used)
    return split


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per group between two cpu_split snapshots, process by process."""
    used = {k: 0.0 for k, v in after.items() if not k.startswith("pid:")}
    for total in ("machine", KERNEL_INTERRUPTS, STEAL):
        used[total] = after[total] - before[total]
    for key, (group, seconds) in ((k, v) for k, v in after.items() if k.startswith("pid:")):
        spent = seconds - before.get(key, (group, 0.0))[1]
        used[group] += spent
        if group == THIS_DATABASE:
            used["postgresql"] += spent
    return used


# The backends serving the bench's database: part of "postgresql", not added to the sum again.
THIS_DATABASE = "postgresql for this database"
# Machine-wide figures, not processes: interrupts are inside "machine", steal outside it.
KERNEL_INTERRUPTS = "kernel interrupts"
STEAL = "steal (not counted in machine)"
NOT_PROCESSES = ("machine", THIS_DATABASE, KERNEL_INTERRUPTS, STEAL)


def run_profile(name, port, users, duration, pause, url, gunicorn_pid=0, worker_pid=0) -> dict:
    """One profile: log every reviewer in, warm up, run them for `duration` s; url: the database
    (the Decision rows stored are counted there before and after)."""
    clients = []
    for username in users:
        client = Client(port)
        client.login(username)
        # Warm-up, not timed: every worker has imported and cached its templates before timing.
        for _ in range(3):
            client.request("GET", f"/reviews/{SLUG}/screen/ta/", headers={"HX-Request": "true"})
        clients.append(client)
    before = decisions_stored(url)
    tally = Tally()
    stop = time.perf_counter() + duration
    threads = [
        threading.Thread(target=reviewer_loop, args=(c, stop, pause, tally, i))
        for i, c in enumerate(clients)
    ]
    threads.append(threading.Thread(target=health_loop, args=(port, stop, tally)))
    cpu_before = cpu_split(gunicorn_pid, worker_pid=worker_pid)
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 60)
    wall = time.perf_counter() - started
    cpu = cpu_used(cpu_before, cpu_split(gunicorn_pid, worker_pid=worker_pid))
    stored = decisions_stored(url) - before
    return {
        "name": name,
        "pause": pause,
        "wall": wall,
        "tally": tally,
        "stored": stored,
        "cpu": cpu,
    }


def describe(result: dict) -> list[str]:
    t: Tally = result["tally"]
    lines = []
    for label, values in (
        ("next record (GET)", t.next_ms),
        ("record a decision (POST)", t.decide_ms),
        ("/healthz (reference)", t.health_ms),
    ):
        lines.append(
            f"| {label} | {len(values)} | {pct(values, 50):.1f} | {pct(values, 95):.1f} | "
            f"{pct(values, 99):.1f} | {max(values, default=float('nan')):.1f} |"
        )
    return lines


# Each reviewer's pause before a decision, in seconds (low, high).
PROFILES = {"paced": (2.0, 4.0), "flat out": (0.0, 0.0)}


def database_facts(url: str) -> dict:
    """What the clone holds, and whether PostgreSQL has statistics on its big tables."""
    import psycopg2

    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM reviews_review), (SELECT count(*) FROM literature_record),"
            " (SELECT count(*) FROM literature_record r JOIN reviews_review v ON v.id = r.review_id"
            "  WHERE v.slug = %s), (SELECT count(*) FROM screening_decision),"
            " (SELECT count(*) FROM screening_recordstagestate),"
            " (SELECT count(DISTINCT tablename) FROM pg_stats WHERE schemaname = 'public' AND"
            "  tablename IN ('literature_record', 'screening_recordstagestate',"
            "  'screening_recordvote', 'screening_decision'))",
            [SLUG],
        )
        reviews, records, bench, decisions, states, analysed = cur.fetchone()
    conn.close()
    return {
        "reviews": reviews,
        "records": records,
        "bench records": bench,
        "decisions": decisions,
        "state rows": states,
        "big tables with statistics": analysed,
    }


def serve(env: dict, args, port: int) -> tuple[subprocess.Popen, subprocess.Popen]:
    """gunicorn with the production settings, and a Celery worker, as a real server runs them."""
    out = ROOT / "bench" / "out"
    gunicorn = subprocess.Popen(
        gunicorn_argv(
            port,
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--threads",
            str(args.threads),
            bin_dir=Path(PY).parent,
        ),
        cwd=ROOT,
        env=env,
        stdout=open(out / "gunicorn.log", "a"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    schedule = out / "screening-celerybeat-schedule"
    schedule.unlink(missing_ok=True)
    celery = str(Path(PY).parent / "celery")
    # With its beat, which sends the heartbeat /healthz reads (as docker-compose runs them).
    worker = subprocess.Popen(
        [
            celery,
            "-A",
            "reviewapp",
            "worker",
            "-B",
            "--schedule",
            str(schedule),
            "-c",
            "1",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        stdout=open(out / "celery.log", "a"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # Beat's first heartbeat is a minute away: send one now, for /healthz to answer 200.
    subprocess.run(
        [celery, "-A", "reviewapp", "call", "core.worker_heartbeat"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if not wait_until_up(Client, port, "/healthz"):
        raise RuntimeError("gunicorn and the worker were not healthy within a minute")
    return gunicorn, worker


def stop(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def condition_run(stats: str, args, base_env: dict) -> dict:
    """Clone the database with these statistics, serve it, run the profiles, drop the clone."""
    sys.path.insert(0, str(ROOT))
    from bench.benchdb import clone, drop

    t = time.perf_counter()
    url = clone(DB, stats, template=args.template, checkout=ROOT)
    clone_s = time.perf_counter() - t
    env = {**base_env, "DATABASE_URL": url}
    gunicorn = worker = None
    try:
        facts = database_facts(url)
        if args.redis_url:
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()
        port = free_port()
        gunicorn, worker = serve(env, args, port)
        users = [f"bench-r{i}" for i in range(args.reviewers)]
        results = [
            run_profile(
                name, port, users, args.duration, PROFILES[name], url, gunicorn.pid, worker.pid
            )
            for name in args.profiles
        ]
    finally:
        stop(gunicorn)
        stop(worker)
        if not args.keep:
            drop(DB)
    return {"stats": stats, "facts": facts, "clone_s": clone_s, "results": results}


def report(condition: dict, args) -> tuple[list[str], bool]:
    facts = condition["facts"]
    stats = condition["stats"]
    out = [
        f"### Statistics {stats}: "
        + (
            "ANALYZE after the clone"
            if stats == "fresh"
            else "never analyzed, autovacuum off (an installation right after bulk writes)"
        ),
        "",
        f"Database: a clone of `{args.template}` (bench/benchdb.py): {facts['reviews']} reviews, "
        f"{facts['records']:,} records, {facts['decisions']:,} decisions, "
        f"{facts['state rows']:,} screening state rows; the measured review `{SLUG}` has "
        f"{facts['bench records']:,} records; statistics on {facts['big tables with statistics']} "
        f"of its 4 big screening tables; cloned and migrated in {condition['clone_s']:.0f} s.",
        "",
    ]
    ok = True
    for result in condition["results"]:
        t: Tally = result["tally"]
        lost = t.acknowledged - result["stored"]
        p95_next, p95_decide = pct(t.next_ms, 95), pct(t.decide_ms, 95)
        health = statistics.median(t.health_ms) if t.health_ms else float("nan")
        requests = max(1, len(t.next_ms) + len(t.decide_ms) + len(t.health_ms))
        rate = t.acknowledged / result["wall"]
        out += [
            f"#### {result['name']}"
            + (
                f" (each reviewer pauses {result['pause'][0]}-{result['pause'][1]} s per record)"
                if result["pause"][1]
                else " (no pause between requests)"
            ),
            "",
            "| request | n | p50 ms | p95 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|---:|---:|",
            *describe(result),
            "",
            f"- decisions acknowledged: {t.acknowledged} ({rate:.1f}/s); "
            f"retries with the same token: {t.retries}; Decision rows stored: {result['stored']}; "
            f"{'nothing lost, no duplicates' if lost == 0 else f'MISMATCH of {lost}'}",
            f"- errors: {len(t.errors)}"
            + (f" (first: {sorted(set(t.errors))[:3]})" if t.errors else ""),
            f"- reference: /healthz p50 {health:.1f} ms in the same run; next-record p95 is "
            f"{p95_next / health:.1f}x and decision p95 {p95_decide / health:.1f}x that.",
            "- CPU used during the profile, in cores (of "
            f"{os.cpu_count()}): "
            + ", ".join(
                f"{k} {v / result['wall']:.2f}"
                for k, v in {
                    **result["cpu"],
                    "anything else": result["cpu"]["machine"]
                    - result["cpu"][KERNEL_INTERRUPTS]
                    - sum(v for k, v in result["cpu"].items() if k not in NOT_PROCESSES),
                }.items()
            )
            + f"; per request: gunicorn {1000 * result['cpu']['gunicorn'] / requests:.1f} ms, "
            f"PostgreSQL for this database {1000 * result['cpu'][THIS_DATABASE] / requests:.1f} "
            "ms.",
            (
                f"- targets p95 <= {TARGET_NEXT_MS:.0f} ms next record: "
                f"{'met' if p95_next <= TARGET_NEXT_MS else 'MISSED'} ({p95_next:.1f} ms); "
                f"<= {TARGET_DECIDE_MS:.0f} ms decision: "
                f"{'met' if p95_decide <= TARGET_DECIDE_MS else 'MISSED'} ({p95_decide:.1f} ms)."
                if result["pause"][1]
                else f"- capacity target >= {TARGET_RATE:.0f} decisions/s: "
                f"{'met' if rate >= TARGET_RATE else 'MISSED'} ({rate:.1f}/s; no latency "
                "target: with no pause the cores are saturated and every request waits its turn; "
                f"p95 {p95_next:.1f} ms next record, {p95_decide:.1f} ms decision)."
            ),
            "",
        ]
        ok = ok and lost == 0 and not t.errors
    return out, ok


# Each reviewer's pause before a decision, in seconds (low, high).
PROFILES = {"paced": (2.0, 4.0), "flat out": (0.0, 0.0)}
# Issue 13, item 2.
TARGET_NEXT_MS, TARGET_DECIDE_MS, TARGET_RATE = 25.0, 40.0, 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stats", choices=["fresh", "missing", "both"], default="both")
    parser.add_argument(
        "--template",
        default="reviewapp_benchdb_tpl",
        help="the template database bench/benchdb.py built (default: the full-size one)",
    )
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 1) * 2))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--worker-class",
        default="gthread",
        choices=["gthread", "sync"],
        help="sync: no keep-alive, so every request goes to whichever worker is free",
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/2",
        help="Redis for the app's sessions, cache and Celery broker, as in production ('' for "
        "none: sessions in PostgreSQL, a cache in each worker's memory, tasks in-process)",
    )
    parser.add_argument(
        "--profiles", nargs="+", choices=list(PROFILES), default=list(PROFILES), metavar="NAME"
    )
    parser.add_argument("--keep", action="store_true", help="keep the clone afterwards")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "screening.md"))
    args = parser.parse_args()

    static_root = ROOT / "bench" / "out" / "static"
    env = server_env(static_root=static_root, media_root=ROOT / "bench" / "out" / "media")
    if args.redis_url:
        # As in production (docker-compose.yml): sessions, the cache and the broker in Redis. A
        # database of its own, emptied first, so nothing of a developer's or CI's is read or lost.
        env["REDIS_URL"] = args.redis_url
    else:
        env.pop("REDIS_URL", None)
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [PY, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": pg_url("postgres")},
        check=True,
    )
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    load_at_start = os.getloadavg()[0]
    conditions = ["fresh", "missing"] if args.stats == "both" else [args.stats]
    done = [condition_run(stats, args, env) for stats in conditions]

    out = [
        "## Screening under load (bench/screening_bench.py)",
        "",
        f"Run {started_at.isoformat()} on {machine()}; PostgreSQL on 127.0.0.1; "
        + ("Redis (sessions, cache, broker) on 127.0.0.1; " if args.redis_url else "no Redis; ")
        + "gunicorn "
        + (
            f"{args.workers} workers x {args.threads} threads (gthread)"
            if args.worker_class == "gthread"
            else f"{args.workers} sync workers"
        )
        + " and a Celery worker on 127.0.0.1; "
        f"{args.reviewers} reviewers at once (each its own session and thread), dual independent "
        f"screening, blinded, file order; {args.duration:.0f} s per profile. The load generator "
        "runs on the same machine and shares its CPUs; load average when it started "
        f"{load_at_start:.1f} (other work on the machine shows there).",
        "",
    ]
    verdicts = []
    for condition in done:
        lines, ok = report(condition, args)
        out += lines
        verdicts.append(ok)
    text = "\n".join(out)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
