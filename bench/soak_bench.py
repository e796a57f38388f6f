"""Load and faults together: 20 reviewers screen for 10 minutes while the worker is killed, Redis
restarted and PostgreSQL connections cut at random moments.

    .venv/bin/python bench/soak_bench.py [--records 20000] [--reviewers 20] [--duration 600]

Everything this bench starts is its own, on this machine's loopback: a Redis server on a free port
(broker, cache and sessions), a PostgreSQL database (reviewapp_soak_bench, on the machine's server),
a Celery worker and Celery beat, and gunicorn with the production configuration
(reviewapp/gunicorn_conf.py). The machine's shared Redis is never touched, and only connections to
the bench's own database are cut (pg_terminate_backend on datname = reviewapp_soak_bench).

1. builds a review of --records records with --reviewers reviewers and an analyst, dual
   independent screening, blinded, the title/abstract queue ranked and retrained every 300
   decisions (so the worker has real work while it is being killed);
2. "calm": the reviewers screen for --calm seconds with no fault; this is the reference measured in
   the same run;
3. "faults": they screen for --duration seconds while, every 25-50 s, one fault is injected at
   random: the worker SIGKILLed (restarted 2-6 s later), Redis SIGKILLed (restarted on the same port
   1-5 s later, empty, as a restarted cache-only Redis is), or every PostgreSQL connection of the
   bench's database terminated. The analyst asks for a background export every 40 s throughout.
   Each reviewer reads 2-4 s per record; a request that fails is retried every 0.5 s, a decision with
   the same client token (as static/js/screening.js does), until it is acknowledged;
4. reports, per phase: p50/p95/p99 latencies, every error a user saw (by kind), the longest outage
   a reviewer saw (first failure to next success), decisions acknowledged against decisions stored
   (compared by client token: an acknowledged decision missing from the database is LOST), and the
   background jobs' final states (none may stay queued or running once the faults stop: a job whose worker was killed is taken
   back when its heartbeat is 60 s old, the bench's JOBS_STALE_AFTER_SECONDS);
5. writes bench/out/soak.md; drops the database and stops everything it started.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screening_bench import (  # noqa: E402  (a sibling script, not a package)
    PASSWORD,
    PREFETCHED,
    RECORD,
    ROOT,
    SLUG,
    Client,
    admin_sql,
    machine,
    pct,
    pg_url,
)

PY = sys.executable
BIN = Path(PY).parent
DB = "reviewapp_soak_bench"
OUT = ROOT / "bench" / "out"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(env: dict, n_records: int, n_reviewers: int) -> None:
    """Migrate the fresh database and fill it (in a child process with the bench settings)."""
    for command in (
        ["migrate", "--no-input", "-v", "0"],
        ["collectstatic", "--no-input", "-v", "0"],
    ):
        subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=env, check=True)
    code = f"""
import django
django.setup()
from django.contrib.auth import get_user_model
from reviewapp.literature.models import Import, Record
from reviewapp.reviews.models import Membership
from reviewapp.reviews.services import review_create
from reviewapp.screening.models import StageSettings
from reviewapp.screening.state import state_rows_sync
User = get_user_model()
owner = User.objects.create_user("soak-owner", password={PASSWORD!r})
review = review_create(title="Soak review", slug={SLUG!r}, owner=owner)
for i in range({n_reviewers}):
    u = User.objects.create_user(f"soak-r{{i}}", password={PASSWORD!r})
    Membership.objects.create(review=review, user=u, role="reviewer")
analyst = User.objects.create_user("soak-analyst", password={PASSWORD!r})
Membership.objects.create(review=review, user=analyst, role="analyst")
imp = Import.objects.create(review=review, file_name="soak.ris", format="ris", status="done")
words = ("randomised controlled trial natalizumab relapse disease activity cohort mice rebound "
         "placebo fingolimod discontinuation washout magnetic resonance lesions").split()
batch = []
for i in range({n_records}):
    batch.append(Record(review=review, source_import=imp, source_position=i + 1,
        title=f"Record {{i}}: " + " ".join(words[(i * 3 + k * k) % len(words)] for k in range(9)),
        abstract=" ".join(words[(i * 7 + k * 5) % len(words)] for k in range(160)),
        authors=["Smith J", "Lee K"], journal="J Soak", year=2000 + i % 25))
    if len(batch) == 5000:
        Record.objects.bulk_create(batch); batch = []
Record.objects.bulk_create(batch)
StageSettings.objects.filter(review=review, stage="ta").update(queue_order="ranked", retrain_every=300)
state_rows_sync(review)
"""
    subprocess.run([PY, "-c", code], cwd=ROOT, env=env, check=True)
    subprocess.run(["psql", pg_url(DB), "-q", "-c", "VACUUM ANALYZE"], check=False)


class Processes:
    """The bench's own Redis, worker, beat and gunicorn; each can be killed and started again."""

    def __init__(self, env: dict, redis_port: int, web_port: int):
        self.env = env
        self.redis_port = redis_port
        self.web_port = web_port
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = {
            name: open(OUT / f"soak-{name}.log", "w")  # noqa: SIM115  (open for the run)
            for name in ("redis", "worker", "beat", "web")
        }

    def _start(self, name: str, argv: list[str]) -> None:
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=self.logs[name],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_redis(self) -> None:
        self._start(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(OUT),
            ],  # fmt: skip
        )
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the bench's Redis did not start")

    def start_worker(self) -> None:
        self._start(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "reviewapp",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "-n",
                f"soak-{uuid.uuid4().hex[:6]}@bench",
                "--without-gossip",
                "--without-mingle",
            ],  # fmt: skip
        )

    def start_beat(self) -> None:
        self._start(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "reviewapp",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(OUT / "soak-celerybeat-schedule"),
            ],  # fmt: skip
        )

    def start_web(self) -> None:
        self._start(
            "web",
            [
                str(BIN / "gunicorn"),
                "--config",
                "python:reviewapp.gunicorn_conf",
                "reviewapp.wsgi",
                "--bind",
                f"127.0.0.1:{self.web_port}",
            ],  # fmt: skip
        )
        for _ in range(150):
            try:
                # /healthz/live where it exists; /healthz answers 503 while the worker is down.
                if Client(self.web_port).request("GET", "/healthz")[0] in (200, 503):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start; see bench/out/soak-web.log")

    def kill(self, name: str) -> None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for name in ("web", "beat", "worker", "redis"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill(name)


def cut_connections() -> int:
    """Terminate every connection to the bench's database (never another database's)."""
    import psycopg2

    conn = psycopg2.connect(pg_url("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [DB],
        )
        (n,) = cur.fetchone()
    conn.close()
    return n


@dataclass
class Tally:
    next_ms: list[float] = field(default_factory=list)
    decide_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    outages: list[float] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Phase:
    name: str
    stop: float
    tally: Tally = field(default_factory=Tally)


class Reviewer:
    """One reviewer's browser that keeps trying, as a person would, until the app answers."""

    def __init__(self, port: int, username: str, seed: int):
        self.port = port
        self.username = username
        self.rng = random.Random(seed)
        self.client = Client(port)
        self.down_since: float | None = None

    def login(self) -> None:
        self.client = Client(self.port)
        self.client.login(self.username)

    def _failed(self, tally: Tally, what: str) -> None:
        with tally.lock:
            tally.errors[what] += 1
        if self.down_since is None:
            self.down_since = time.perf_counter()
        time.sleep(0.5)

    def _ok(self, tally: Tally) -> None:
        if self.down_since is not None:
            with tally.lock:
                tally.outages.append(time.perf_counter() - self.down_since)
            self.down_since = None

    def request(
        self,
        tally: Tally,
        label: str,
        method: str,
        path: str,
        body=None,
        headers=None,
        redirects: bool = False,
    ):
        """One request, retried until it is answered with something other than a failure.

        A redirect means the session was lost (to the login page) unless `redirects` says the
        request answers with one (a form that sends the browser on to its result).
        """
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline:
            if body is not None:
                body["csrfmiddlewaretoken"] = self.client.cookies.get("csrftoken", "")
                headers = {**(headers or {}), "X-CSRFToken": body["csrfmiddlewaretoken"]}
            t = time.perf_counter()
            try:
                status, text = self.client.request(method, path, body, headers=headers)
            except Exception as exc:
                self._failed(tally, f"{label}: {exc.__class__.__name__}")
                continue
            elapsed = (time.perf_counter() - t) * 1000
            if (status in (301, 302) and not redirects) or (status == 403 and "CSRF" in text):
                # Logged out (a lost session) or a stale CSRF token: the user logs in again.
                self._failed(tally, f"{label}: sent to the login page (HTTP {status})")
                try:
                    self.login()
                except Exception as exc:
                    self._failed(tally, f"login: {exc!r}"[:80])
                continue
            if status >= 500:
                self._failed(tally, f"{label}: HTTP {status}")
                continue
            self._ok(tally)
            return status, text, elapsed
        raise RuntimeError(f"{self.username}: {label} failed for 120 s")

    def loop(self, phases: list[Phase]) -> None:
        hx = {"HX-Request": "true"}
        screen = f"/reviews/{SLUG}/screen/ta/"
        time.sleep(self.rng.uniform(0, 4))
        for phase in phases:
            tally = phase.tally
            while time.perf_counter() < phase.stop:
                status, html, ms = self.request(tally, "next record", "GET", screen, headers=hx)
                match = RECORD.search(html)
                with tally.lock:
                    tally.next_ms.append(ms)
                if status != 200 or not match:
                    with tally.lock:
                        tally.refused[f"next record: HTTP {status}, no record"] += 1
                    time.sleep(1)
                    continue
                time.sleep(self.rng.uniform(2.0, 4.0))
                token = str(uuid.uuid4())
                body = {
                    "value": self.rng.choices(["include", "exclude", "maybe"], [25, 70, 5])[0],
                    "client_token": token,
                }
                headers = dict(hx)
                prefetched = PREFETCHED.search(html)
                if prefetched:
                    headers["X-Screen-Showing"] = prefetched.group(1)
                path = f"/reviews/{SLUG}/screen/ta/{match.group(1)}/decide/"
                status, _, ms = self.request(tally, "decision", "POST", path, body, headers)
                with tally.lock:
                    tally.decide_ms.append(ms)
                    if status == 200:
                        tally.acknowledged.add(token)
                    else:
                        # A refusal the user is shown (e.g. the record was settled meanwhile).
                        tally.refused[f"decision: HTTP {status}"] += 1


def analyst_loop(port: int, phases: list[Phase], jobs: list[str]) -> None:
    analyst = Reviewer(port, "soak-analyst", 0)
    analyst.login()
    for phase in phases:
        while time.perf_counter() < phase.stop:
            status, text, _ = analyst.request(
                phase.tally,
                "export",
                "POST",
                f"/reviews/{SLUG}/downloads/new/",
                {"kind": "records-wide"},
                redirects=True,
            )
            jobs.append(f"{status}")
            time.sleep(40)


def injector(procs: Processes, phase: Phase, log: list[str], started: float) -> None:
    rng = random.Random(7)
    while True:
        time.sleep(rng.uniform(25, 50))
        if time.perf_counter() > phase.stop - 20:
            return
        fault = rng.choice(["worker", "redis", "postgres"])
        at = time.perf_counter() - started
        if fault == "worker":
            procs.kill("worker")
            down = rng.uniform(2, 6)
            time.sleep(down)
            procs.start_worker()
            log.append(f"{at:6.1f} s: worker SIGKILLed, restarted {down:.1f} s later")
        elif fault == "redis":
            procs.kill("redis")
            down = rng.uniform(1, 5)
            time.sleep(down)
            procs.start_redis()
            log.append(f"{at:6.1f} s: Redis SIGKILLed, restarted empty {down:.1f} s later")
        else:
            n = cut_connections()
            log.append(f"{at:6.1f} s: {n} PostgreSQL connections of the bench's database cut")


def stored_tokens() -> set[str]:
    import psycopg2

    conn = psycopg2.connect(pg_url(DB))
    with conn.cursor() as cur:
        cur.execute(
            "SELECT client_token::text FROM screening_decision "
            "WHERE kind = 'vote' AND client_token IS NOT NULL"
        )
        tokens = {row[0] for row in cur.fetchall()}
    conn.close()
    return tokens


def job_states() -> dict[str, Counter]:
    import psycopg2

    conn = psycopg2.connect(pg_url(DB))
    states = {}
    with conn.cursor() as cur:
        for label, table in (
            ("exports", "extraction_exportjob"),
            ("rankings", "screening_ranking"),
        ):
            cur.execute(f"SELECT status, count(*) FROM {table} GROUP BY status")  # noqa: S608
            states[label] = Counter(dict(cur.fetchall()))
    conn.close()
    return states


def wait_for_jobs(timeout: float) -> dict[str, Counter]:
    deadline = time.perf_counter() + timeout
    while True:
        states = job_states()
        busy = sum(n for c in states.values() for s, n in c.items() if s in ("queued", "running"))
        if not busy or time.perf_counter() > deadline:
            return states
        time.sleep(5)


def describe(phase: Phase, wall: float, lost: int | None = None) -> list[str]:
    t = phase.tally
    lines = [
        f"### {phase.name}",
        "",
        "| request | n | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, values in (("next record (GET)", t.next_ms), ("decision (POST)", t.decide_ms)):
        lines.append(
            f"| {label} | {len(values)} | {pct(values, 50):.1f} | {pct(values, 95):.1f} | "
            f"{pct(values, 99):.1f} | {max(values, default=float('nan')):.1f} |"
        )
    lines += [
        "",
        f"- decisions acknowledged: {len(t.acknowledged)} ({len(t.acknowledged) / wall:.1f}/s)",
        f"- errors users saw: {sum(t.errors.values())}"
        + (
            " (" + "; ".join(f"{k}: {v}" for k, v in t.errors.most_common()) + ")"
            if t.errors
            else ""
        ),
        f"- refusals shown to users: {sum(t.refused.values())}"
        + (
            " (" + "; ".join(f"{k}: {v}" for k, v in t.refused.most_common()) + ")"
            if t.refused
            else ""
        ),
        f"- outages a reviewer saw: {len(t.outages)}, longest {max(t.outages, default=0):.1f} s",
        "",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--calm", type=float, default=60)
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--out", default=str(OUT / "soak.md"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    redis_port, web_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "DATABASE_URL": pg_url(DB),
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "reviewapp.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_HSTS_SECONDS": "0",
        "STATIC_ROOT": str(OUT / "static"),
        "MEDIA_ROOT": str(OUT / "soak-media"),
        # A job whose worker was killed is taken back once its heartbeat is this old (production:
        # 300 s, heartbeat 30 s); shorter here so the wait for the last job fits the bench.
        "JOBS_STALE_AFTER_SECONDS": "60",
        "JOBS_HEARTBEAT_SECONDS": "10",
    }
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)', f'CREATE DATABASE "{DB}"')
    procs = Processes(env, redis_port, web_port)
    faults: list[str] = []
    exports: list[str] = []
    try:
        t = time.perf_counter()
        build(env, args.records, args.reviewers)
        build_s = time.perf_counter() - t
        procs.start_redis()
        procs.start_worker()
        procs.start_beat()
        procs.start_web()
        reviewers = [Reviewer(web_port, f"soak-r{i}", i) for i in range(args.reviewers)]
        for r in reviewers:
            r.login()
        started = time.perf_counter()
        calm = Phase(f"calm: no faults for {args.calm:.0f} s (the reference)", started + args.calm)
        faulty = Phase(
            f"faults: {args.duration:.0f} s with the worker, Redis and PostgreSQL connections "
            "failing",
            calm.stop + args.duration,
        )
        phases = [calm, faulty]
        threads = [threading.Thread(target=r.loop, args=(phases,), daemon=True) for r in reviewers]
        threads.append(
            threading.Thread(target=analyst_loop, args=(web_port, phases, exports), daemon=True)
        )
        for th in threads:
            th.start()
        time.sleep(max(0.0, calm.stop - time.perf_counter()))
        fault_thread = threading.Thread(target=injector, args=(procs, faulty, faults, started))
        fault_thread.start()
        for th in threads:
            th.join(max(1.0, faulty.stop - time.perf_counter()) + 150)
        fault_thread.join(60)
        # Every process is back (the injector restarts what it killed); jobs get time to settle.
        jobs = wait_for_jobs(240)
        stored = stored_tokens()
    finally:
        procs.stop_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')

    acknowledged = calm.tally.acknowledged | faulty.tally.acknowledged
    lost = acknowledged - stored
    unacknowledged = stored - acknowledged
    calm_wall = args.calm
    ref95 = pct(calm.tally.decide_ms, 95)
    fault95 = pct(faulty.tally.decide_ms, 95)
    busy = sum(n for c in jobs.values() for s, n in c.items() if s in ("queued", "running"))
    out = [
        "## Soak: screening through faults (bench/soak_bench.py)",
        "",
        f"Run {started_at.isoformat()} on {machine()}. The bench's own Redis (broker, cache, "
        "sessions), Celery worker and beat, gunicorn with reviewapp/gunicorn_conf.py, and its own "
        f"PostgreSQL database, all on 127.0.0.1; {args.records:,} records, {args.reviewers} "
        "reviewers (each reads 2-4 s per record), dual blinded screening in ranked order "
        "(retrained every 300 decisions), an analyst asking for a background export every 40 s. "
        f"Build and migrate took {build_s:.0f} s.",
        "",
        f"Faults injected ({len(faults)}):",
        "",
        *[f"- {line}" for line in faults],
        "",
        *describe(calm, calm_wall),
        *describe(faulty, args.duration),
        "### Verdict",
        "",
        f"- decisions acknowledged: {len(acknowledged)}; stored (by client token): "
        f"{len(stored)}; acknowledged but not stored (LOST): {len(lost)}; stored but never "
        f"acknowledged: {len(unacknowledged)}",
        f"- decision p95 under faults {fault95:.1f} ms against {ref95:.1f} ms calm in the same run "
        f"({fault95 / ref95:.1f}x)",
        "- background jobs at the end: "
        + "; ".join(f"{label} {dict(c)}" for label, c in jobs.items())
        + f" ({busy} still queued or running)",
        f"- exports asked for: {len(exports)}",
        "",
    ]
    text = "\n".join(out)
    print(text)
    Path(args.out).write_text(text + "\n")
    return 0 if not lost and not unacknowledged and not busy else 1


if __name__ == "__main__":
    sys.exit(main())
