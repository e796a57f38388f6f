"""Screening under load: 20 reviewers at once on a 100,000-record review, served by gunicorn.

    .venv/bin/python bench/screening_bench.py [--records 100000] [--reviewers 20] [--duration 60]

What it does, all on this machine (loopback only, nothing from the internet):
1. creates a fresh PostgreSQL database (reviewapp_screening_bench), migrates it, and builds a review of
   --records records with --reviewers reviewers, dual independent screening, blinded;
2. starts gunicorn with the production settings (reviewapp/gunicorn_conf.py) on 127.0.0.1, with
   sessions and the cache in Redis as in production (--redis-url; its database is emptied first);
   gunicorn is stopped at the end, and bounded by a timeout whatever happens;
3. runs two profiles for --duration seconds each, every reviewer in its own thread with its own
   logged-in session:
   - "paced": each reviewer reads for 2-4 s before each decision ("one decision every few
     seconds", as the issue describes screeners), and joins at a random moment within one pause;
     the p95 < 50 ms target is judged here;
   - "flat out": no pause at all, all starting at once: the most the server can be asked
     (capacity, in decisions a second);
   each loop asks for the next record (GET, as the page's htmx/fetch does) and records a decision
   (POST, which answers with the next records); 5% of decisions are sent twice with the same
   client token, as a network retry would;
4. reports p50/p95/p99 of both requests, the errors, and checks that the decisions the server
   acknowledged equal the Decision rows stored (retries must not add rows);
5. writes bench/out/screening.md with the date, the machine, and /healthz latency measured
   through the same gunicorn in the same run as the reference; drops the database.

PGHOST/PGPORT/PGUSER select the server (default 127.0.0.1:5432, postgres). --profiles paced runs
one profile alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import platform
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DB = "reviewapp_screening_bench"
PASSWORD = "bench-password-not-secret"
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


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1048576:.0f} GiB"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (nproc), {cpu}, {ram} RAM, Python {platform.python_version()}"


def build(env: dict, n_records: int, n_reviewers: int) -> None:
    """Migrate the fresh database and fill it (in a child process with the bench settings)."""
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


class Client:
    """One reviewer's browser: a session cookie, a CSRF token, one keep-alive connection."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, payload.decode("utf-8", "replace")

    def login(self, username: str) -> None:
        status, _ = self.request("GET", "/accounts/login/")
        assert status == 200, status
        status, _ = self.request(
            "POST",
            "/accounts/login/",
            {
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.cookies["csrftoken"],
            },
        )
        assert status == 302, f"login of {username} answered {status}"


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


def decisions_stored(env: dict) -> int:
    import psycopg2

    conn = psycopg2.connect(pg_url(DB))
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM screening_decision")
        (n,) = cur.fetchone()
    conn.close()
    return n


def cpu_split(gunicorn_pid: int) -> dict[str, float]:
    """CPU seconds used so far: the whole machine, gunicorn's workers, PostgreSQL's processes
    (every database: other work on the machine shows there too) and this load generator."""
    tick = os.sysconf("SC_CLK_TCK")
    split = {"machine": 0.0, "gunicorn": 0.0, "postgresql": 0.0, "load generator": 0.0}
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    split["machine"] = (sum(int(v) for v in fields) - int(fields[3]) - int(fields[4])) / tick
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2 :].split()
        used = (int(rest[11]) + int(rest[12])) / tick  # utime + stime
        if int(rest[1]) == gunicorn_pid:  # ppid: a worker
            split["gunicorn"] += used
        elif comm.startswith("postgres") or comm.startswith("postmaster"):
            split["postgresql"] += used
        elif int(entry.name) == os.getpid():
            split["load generator"] += used
    return split


def run_profile(name, port, users, duration, pause, env, gunicorn_pid=0) -> dict:
    clients = []
    for username in users:
        client = Client(port)
        client.login(username)
        # Warm-up, not timed: every worker has imported and cached its templates before timing.
        for _ in range(3):
            client.request("GET", f"/reviews/{SLUG}/screen/ta/", headers={"HX-Request": "true"})
        clients.append(client)
    before = decisions_stored(env)
    tally = Tally()
    stop = time.perf_counter() + duration
    threads = [
        threading.Thread(target=reviewer_loop, args=(c, stop, pause, tally, i))
        for i, c in enumerate(clients)
    ]
    threads.append(threading.Thread(target=health_loop, args=(port, stop, tally)))
    cpu_before = cpu_split(gunicorn_pid)
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 60)
    wall = time.perf_counter() - started
    cpu = {k: v - cpu_before[k] for k, v in cpu_split(gunicorn_pid).items()}
    stored = decisions_stored(env) - before
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
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
        help="Redis for the app's sessions and cache, as in production ('' for none: the "
        "embedded default, sessions in PostgreSQL and a cache in each worker's memory)",
    )
    parser.add_argument(
        "--profiles", nargs="+", choices=list(PROFILES), default=list(PROFILES), metavar="NAME"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "screening.md"))
    args = parser.parse_args()

    static_root = ROOT / "bench" / "out" / "static"
    env = {
        **os.environ,
        "DATABASE_URL": pg_url(DB),
        "DJANGO_SETTINGS_MODULE": "reviewapp.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_HSTS_SECONDS": "0",
        "STATIC_ROOT": str(static_root),
        "MEDIA_ROOT": str(ROOT / "bench" / "out" / "media"),
    }
    if args.redis_url:
        # As in production (docker-compose.yml): sessions and the cache in Redis. A database of
        # its own, emptied first, so nothing of a developer's or CI's is read or lost.
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
        env["REDIS_URL"] = args.redis_url
    else:
        env.pop("REDIS_URL", None)
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)', f'CREATE DATABASE "{DB}"')
    gunicorn = None
    try:
        t = time.perf_counter()
        build(env, args.records, args.reviewers)
        build_s = time.perf_counter() - t
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = open(ROOT / "bench" / "out" / "gunicorn.log", "w")  # noqa: SIM115
        # The production settings (reviewapp/gunicorn_conf.py), on a port of this machine's.
        gunicorn = subprocess.Popen(
            [
                str(Path(PY).parent / "gunicorn"),
                "--config",
                "python:reviewapp.gunicorn_conf",
                "reviewapp.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--worker-class",
                args.worker_class,
                "--threads",
                str(args.threads),
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(100):
            try:
                if Client(port).request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        users = [f"bench-r{i}" for i in range(args.reviewers)]
        results = [
            run_profile(name, port, users, args.duration, PROFILES[name], env, gunicorn.pid)
            for name in args.profiles
        ]
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
        if not args.keep:
            admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')

    out = [
        "## Screening under load (bench/screening_bench.py)",
        "",
        f"Run {started_at.isoformat()} on {machine()}; PostgreSQL on 127.0.0.1; "
        + ("Redis (sessions, cache) on 127.0.0.1; " if args.redis_url else "no Redis; ")
        + "gunicorn "
        + (
            f"{args.workers} workers x {args.threads} threads (gthread)"
            if args.worker_class == "gthread"
            else f"{args.workers} sync workers"
        )
        + " on 127.0.0.1; "
        f"{args.records:,} records, {args.reviewers} reviewers at once (each its own session and "
        f"thread), dual independent screening, blinded, file order; {args.duration:.0f} s per "
        f"profile; build and migrate took {build_s:.0f} s. The load generator runs on the same "
        "machine and shares its CPUs.",
        "",
    ]
    verdicts = []
    for result in results:
        t: Tally = result["tally"]
        lost = t.acknowledged - result["stored"]
        p95_next, p95_decide = pct(t.next_ms, 95), pct(t.decide_ms, 95)
        health = statistics.median(t.health_ms) if t.health_ms else float("nan")
        requests = max(1, len(t.next_ms) + len(t.decide_ms) + len(t.health_ms))
        out += [
            f"### {result['name']}"
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
            f"- decisions acknowledged: {t.acknowledged} ({t.acknowledged / result['wall']:.1f}/s); "
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
                    - sum(v for k, v in result["cpu"].items() if k != "machine"),
                }.items()
            )
            + f"; per request: gunicorn {1000 * result['cpu']['gunicorn'] / requests:.1f} ms, "
            f"PostgreSQL {1000 * result['cpu']['postgresql'] / requests:.1f} ms.",
            (
                f"- target p95 < 50 ms: next record {'met' if p95_next < 50 else 'MISSED'} "
                f"({p95_next:.1f} ms), decision {'met' if p95_decide < 50 else 'MISSED'} "
                f"({p95_decide:.1f} ms)."
                if result["pause"][1]
                else f"- capacity: {t.acknowledged / result['wall']:.1f} decisions a second "
                "(no latency target: with no pause the cores are saturated and every request "
                f"waits its turn; p95 {p95_next:.1f} ms next record, {p95_decide:.1f} ms decision)."
            ),
            "",
        ]
        verdicts.append(lost == 0 and not t.errors)
    text = "\n".join(out)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
