"""Scale out: the screening load spread across two gunicorn instances and two Celery workers.

    .venv/bin/python bench/scaleout_bench.py [--database NAME | --records 100000]
        [--reviewers 20] [--duration 60] [--profiles paced "flat out"]

Two web instances (reviewapp/gunicorn_conf.py each, on a port of its own) and two Celery workers
(processes of their own on one queue), as on two machines, against one PostgreSQL and one Redis
(issue 13, item 8). For each profile of bench/screening_bench.py ("paced": 2-4 s per record,
"flat out": no pause) it runs, in the same run:

1. reference: every reviewer on instance A alone (what one machine gives);
2. spread: half the reviewers on A and half on B, each logged in through the other instance
   (sessions live in PostgreSQL read through Redis, so a load balancer needs no sticky sessions).

Each reviewer runs screening_bench's reviewer_loop (next record, decision, 5% of decisions sent
twice with the same client token) through a tracking client that checks, on every answer:
- leases: a record handed to one reviewer is not handed to another before the first has decided
  it (dual screening hands a record on once the first vote is in; a record held by two reviewers
  at one time is a violation); at the end no record holds more votes than the stage requires;
- blinding: no panel of a record the reviewer has not voted on shows another reviewer's vote.
During every profile the review's owner, through both instances, asks for a retrain with a double
click (one request on A and one on B at the same moment: one training may follow) and for a
background export every --task-every seconds; after the profile every job is checked: finished,
taken once (attempts == 1), one file per export.

Reports per instance and in total: throughput, latency, errors, acknowledged = stored; lease and
blinding violations; the jobs and how often each ran. Writes bench/out/scaleout.md.

--database uses an existing database (a clone of the realistic benchmark database from
bench/benchdb.py: review `bench`, reviewers with the screening bench's password); without it a
fresh database of --records records is built as bench/screening_bench.py builds its own, and
dropped at the end. Redis: --redis-url (its database is emptied first).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import screening_bench as sb  # noqa: E402 - the screening bench's client, loop and tally, as is

PY = sys.executable
OWN_DB = "reviewapp_scaleout_bench"
QUEUE = "scaleout-bench"
PANEL = re.compile(r'<div class="record-panel" data-record-id="(\d+)"')
DECIDE = re.compile(r"/screen/ta/(\d+)/decide/$")


# --- the tracking client (an adapter: screening_bench.py is used as it is) --------------------


class Tracker:
    """What every reviewer has been handed and has decided, across both instances."""

    def __init__(self, usernames: list[str]):
        self.lock = threading.Lock()
        self.usernames = usernames
        self.holder: dict[int, str] = {}
        self.decided: dict[str, set[int]] = {u: set() for u in usernames}
        self.lease_violations: list[str] = []
        self.blinding_violations: list[str] = []
        self.handed = 0

    def deciding(self, user: str, record_id: int) -> None:
        # Released before the decision is sent: once it is stored, the record may go to another.
        with self.lock:
            self.decided[user].add(record_id)
            if self.holder.get(record_id) == user:
                del self.holder[record_id]

    def answered(self, user: str, html: str) -> None:
        ids = [int(m.group(1)) for m in (sb.RECORD.search(html), sb.PREFETCHED.search(html)) if m]
        chunks = PANEL.split(html)[1:]
        with self.lock:
            for record_id, chunk in zip(chunks[::2], chunks[1::2], strict=False):
                if int(record_id) in self.decided[user]:
                    continue  # voted on: the others' votes may show once all are in
                for other in self.usernames:
                    if other != user and f"{other}: <strong" in chunk:
                        self.blinding_violations.append(
                            f"{user} was shown {other}'s vote on record {record_id}"
                        )
            for record_id in ids:
                self.handed += 1
                held_by = self.holder.setdefault(record_id, user)
                if held_by != user:
                    self.lease_violations.append(
                        f"record {record_id} handed to {user} while {held_by} holds it"
                    )
                    self.holder[record_id] = user


class TrackedClient(sb.Client):
    """screening_bench's Client, reporting what it is handed and what it decides."""

    def __init__(self, port: int, username: str, tracker: Tracker):
        super().__init__(port)
        self.username, self.tracker = username, tracker

    def request(self, method: str, path: str, body: dict | None = None, headers=None):
        decide = DECIDE.search(path) if method == "POST" else None
        if decide:
            self.tracker.deciding(self.username, int(decide.group(1)))
        status, html = super().request(method, path, body, headers)
        if status == 200 and (decide or path.endswith("/screen/ta/")):
            self.tracker.answered(self.username, html)
        return status, html


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict, name: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log = open(ROOT / "bench" / "out" / f"scaleout-gunicorn-{name}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "--config",
            "python:reviewapp.gunicorn_conf",
            "reviewapp.wsgi",
        ],  # fmt: skip
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(300):
        try:
            if sb.Client(port).request("GET", "/healthz/live")[0] == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn {name} did not answer within 60 s")


def start_worker(env: dict, name: str) -> subprocess.Popen:
    log = open(ROOT / "bench" / "out" / f"scaleout-worker-{name}.log", "w")  # noqa: SIM115
    return subprocess.Popen(
        [
            PY,
            "-m",
            "celery",
            "-A",
            "reviewapp",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--loglevel=INFO",
            "-Q",
            QUEUE,
            "-n",
            f"{name}@scaleout-bench",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def worker_runs(name: str) -> Counter:
    """Deliveries each worker finished, by task name (its INFO log)."""
    text = (ROOT / "bench" / "out" / f"scaleout-worker-{name}.log").read_text(errors="replace")
    return Counter(re.findall(r"Task ([\w.]+)\[[^\]]+\] succeeded", text))


# --- database ---------------------------------------------------------------------------------


def query(db: str, sql: str, params=()) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(sb.pg_url(db))
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def team(db: str) -> tuple[str, list[str]]:
    """The `bench` review's owner and its reviewers' user names."""
    rows = query(
        db,
        "SELECT u.username, m.role FROM reviews_membership m JOIN auth_user u ON u.id = m.user_id "
        "JOIN reviews_review r ON r.id = m.review_id WHERE r.slug = %s ORDER BY u.id",
        [sb.SLUG],
    )
    owner = next(u for u, role in rows if role == "owner")
    return owner, [u for u, role in rows if role == "reviewer"]


def over_voted(db: str) -> int:
    """Records of the review holding more votes at title/abstract than its stage requires."""
    return query(
        db,
        "SELECT count(*) FROM (SELECT v.record_id FROM screening_recordvote v "
        "JOIN reviews_review r ON r.id = v.review_id "
        "JOIN screening_stagesettings s ON s.review_id = r.id AND s.stage = v.stage "
        "WHERE r.slug = %s AND v.stage = 'ta' GROUP BY v.record_id, s.reviewers_required "
        "HAVING count(*) > s.reviewers_required) x",
        [sb.SLUG],
    )[0][0]


def max_ids(db: str) -> tuple[int, int]:
    return query(
        db,
        "SELECT (SELECT coalesce(max(id), 0) FROM extraction_exportjob), "
        "(SELECT coalesce(max(id), 0) FROM screening_ranking)",
    )[0]


def jobs_since(db: str, after: tuple[int, int]) -> dict[str, list[tuple]]:
    return {
        "export": query(
            db,
            "SELECT id, status, attempts, file, rows_written, error FROM extraction_exportjob "
            "WHERE id > %s ORDER BY id",
            [after[0]],
        ),
        "training": query(
            db,
            "SELECT id, status, attempts, '', n_records, error FROM screening_ranking "
            "WHERE id > %s ORDER BY id",
            [after[1]],
        ),
    }


# --- one profile ------------------------------------------------------------------------------


def owner_tasks(clients: list[sb.Client], stop_at: float, every: float, log: list[str]) -> None:
    """The owner, through both instances: a retrain asked twice at once (a double click landing
    on both instances), then a background export every `every` seconds, A and B in turn."""
    retrain = f"/reviews/{sb.SLUG}/screen/ta/prioritisation/"

    def post(client: sb.Client, path: str, body: dict) -> None:
        status, _ = client.request(
            "POST", path, {**body, "csrfmiddlewaretoken": client.cookies["csrftoken"]}
        )
        log.append(f"{path} {body} -> {status}")

    both = [
        threading.Thread(target=post, args=(c, retrain, {"action": "retrain"})) for c in clients
    ]
    for t in both:
        t.start()
    for t in both:
        t.join(60)
    n = 0
    while time.perf_counter() + every < stop_at:
        time.sleep(every)
        post(clients[n % 2], f"/reviews/{sb.SLUG}/downloads/new/", {"kind": "records-wide"})
        n += 1


def run_profile(name, layout, ports, users, owner, tracker, duration, pause, db, every):
    """layout "reference": everyone on A; "spread": reviewers alternate A, B (logged in through
    the other one). Returns the tallies per instance and what was stored."""
    instances = ["A"] if layout == "reference" else ["A", "B"]
    tallies = {inst: sb.Tally() for inst in instances}
    clients = []
    for i, username in enumerate(users):
        inst = instances[i % len(instances)]
        port = ports[inst]
        client = TrackedClient(ports["B" if inst == "A" and layout == "spread" else "A"], username,
                               tracker)  # fmt: skip
        client.login(username)
        # The session goes on to the reviewer's instance (login through the other one).
        client.port = port
        client.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(3):
            client.request("GET", f"/reviews/{sb.SLUG}/screen/ta/", headers={"HX-Request": "true"})
        clients.append((inst, client))
    owners = []
    for inst in ("A", "B"):
        c = sb.Client(ports[inst])
        c.login(owner)
        owners.append(c)
    before_jobs = max_ids(db)
    before = sb.decisions_stored({})
    stop_at = time.perf_counter() + duration
    threads = [
        threading.Thread(target=sb.reviewer_loop, args=(c, stop_at, pause, tallies[inst], i))
        for i, (inst, c) in enumerate(clients)
    ]
    task_log: list[str] = []
    threads.append(threading.Thread(target=owner_tasks, args=(owners, stop_at, every, task_log)))
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 120)
    wall = time.perf_counter() - started
    stored = sb.decisions_stored({}) - before
    return {
        "name": name,
        "layout": layout,
        "wall": wall,
        "tallies": tallies,
        "stored": stored,
        "before_jobs": before_jobs,
        "task_log": task_log,
    }


def wait_for_jobs(db: str, after: tuple[int, int], timeout: float) -> dict[str, list[tuple]]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = jobs_since(db, after)
        pending = [j for rows in jobs.values() for j in rows if j[1] in ("queued", "running")]
        if not pending or time.monotonic() > deadline:
            return jobs
        time.sleep(2)


# --- report -----------------------------------------------------------------------------------


def latency_rows(label: str, t: sb.Tally, wall: float) -> list[str]:
    return [
        f"| {label} | {t.acknowledged / wall:.1f} | {len(t.next_ms)} | {sb.pct(t.next_ms, 50):.1f} | "
        f"{sb.pct(t.next_ms, 95):.1f} | {sb.pct(t.decide_ms, 50):.1f} | "
        f"{sb.pct(t.decide_ms, 95):.1f} | {sb.pct(t.decide_ms, 99):.1f} | {len(t.errors)} |"
    ]


def merged(tallies: list[sb.Tally]) -> sb.Tally:
    total = sb.Tally()
    for t in tallies:
        total.next_ms += t.next_ms
        total.decide_ms += t.decide_ms
        total.errors += t.errors
        total.acknowledged += t.acknowledged
        total.retries += t.retries
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="an existing database (a benchdb clone); kept")
    parser.add_argument(
        "--clone",
        choices=["fresh", "missing"],
        help="clone the realistic database (bench/benchdb.py clone) with these statistics into "
        f"{OWN_DB}, and drop it at the end",
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--task-every", type=float, default=20, help="seconds between exports")
    parser.add_argument("--task-timeout", type=float, default=600)
    parser.add_argument("--statistics", default="", help="said in the report: fresh or missing")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument(
        "--profiles", nargs="+", choices=list(sb.PROFILES), default=list(sb.PROFILES)
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "scaleout.md"))
    args = parser.parse_args()

    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    db = args.database or OWN_DB
    if args.clone:
        args.statistics = args.clone
    sb.DB = db  # screening_bench's build() and decisions_stored() read its module constant
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": sb.pg_url(db),
        "DJANGO_SETTINGS_MODULE": "reviewapp.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_HSTS_SECONDS": "0",
        "STATIC_ROOT": str(out_dir / "static"),
        "MEDIA_ROOT": str(out_dir / "scaleout-media"),
        "REDIS_URL": args.redis_url,
        "CELERY_QUEUE": QUEUE,
    }
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    processes: list[subprocess.Popen] = []
    build_s = 0.0
    if not args.database and not args.clone:
        sb.admin_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', f'CREATE DATABASE "{db}"')
    try:
        t = time.perf_counter()
        if args.clone:
            subprocess.run(
                [PY, "bench/benchdb.py", "clone", db, "--stats", args.clone], cwd=ROOT, check=True
            )
        if args.database or args.clone:
            subprocess.run(
                [PY, "manage.py", "collectstatic", "--no-input", "-v", "0"],
                cwd=ROOT, env=env, check=True,
            )  # fmt: skip
        else:
            sb.build(env, args.records, args.reviewers)
        build_s = time.perf_counter() - t
        owner, users = team(db)
        users = users[: args.reviewers]
        tracker = Tracker(users + [owner])
        workers = {name: start_worker(env, name) for name in ("w1", "w2")}
        processes += workers.values()
        ports = {}
        for name in ("A", "B"):
            process, ports[name] = start_gunicorn(env, name)
            processes.append(process)
        results = []
        for profile in args.profiles:
            for layout in ("reference", "spread"):
                result = run_profile(
                    profile, layout, ports, users, owner, tracker, args.duration,
                    sb.PROFILES[profile], db, args.task_every,
                )  # fmt: skip
                result["jobs"] = wait_for_jobs(db, result["before_jobs"], args.task_timeout)
                results.append(result)
                print(f"{profile} / {layout}: done", flush=True)
        runs = {name: worker_runs(name) for name in workers}
        over = over_voted(db)
        records = query(
            db,
            "SELECT count(*) FROM literature_record r JOIN reviews_review v ON v.id = r.review_id "
            "WHERE v.slug = %s",
            [sb.SLUG],
        )[0][0]
        all_records = query(db, "SELECT count(*) FROM literature_record")[0][0]
    finally:
        for process in processes:
            stop(process)
        if args.clone:
            subprocess.run([PY, "bench/benchdb.py", "drop", db], cwd=ROOT, check=False)
        elif not args.database:
            sb.admin_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    media = Path(env["MEDIA_ROOT"])
    out = [
        "## Scale out (bench/scaleout_bench.py)",
        "",
        f"Run {started_at.isoformat()} on {sb.machine()}. Two gunicorn instances (A and B, "
        "reviewapp/gunicorn_conf.py each, its own port) and two Celery workers (prefork, one "
        "process each, one queue) against one PostgreSQL and one Redis, all on this machine. "
        + (
            f"Database: a clone of the realistic benchmark database (bench/benchdb.py), "
            f"{args.statistics or 'unstated'} statistics"
            if args.clone or args.database
            else "Database: a small one built for the run (screening_bench's build)"
        )
        + f"; {all_records:,} records in all, {records:,} in the measured review, "
        f"{len(users)} reviewers, dual blinded screening. {args.duration:.0f} s per profile and "
        f"layout; setup {build_s:.0f} s. The load generator shares the machine's CPUs.",
        "",
        "| profile / layout / instance | decisions/s | next n | next p50 ms | next p95 ms | "
        "decide p50 ms | decide p95 ms | decide p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdict = True
    notes = []
    for r in results:
        tallies = r["tallies"]
        for inst, t in tallies.items():
            if len(tallies) > 1:
                out += latency_rows(f"{r['name']} / {r['layout']} / {inst}", t, r["wall"])
        total = merged(list(tallies.values()))
        out += latency_rows(f"**{r['name']} / {r['layout']} / total**", total, r["wall"])
        lost = total.acknowledged - r["stored"]
        verdict &= lost == 0 and not total.errors
        jobs = r["jobs"]
        exports, trainings = jobs["export"], jobs["training"]
        bad = [j for rows in jobs.values() for j in rows if j[1] != "done" or j[2] != 1]
        files = [j for j in exports if j[3] and (media / j[3]).is_file()]
        verdict &= not bad and len(files) == len(exports)
        notes.append(
            f"- {r['name']} / {r['layout']}: acknowledged {total.acknowledged}, stored "
            f"{r['stored']} ({'equal' if lost == 0 else f'MISMATCH {lost}'}), retries "
            f"{total.retries}, errors {len(total.errors)}"
            + (f" (first: {sorted(set(total.errors))[:3]})" if total.errors else "")
            + f"; jobs: {len(exports)} exports, {len(trainings)} training(s) from the double "
            f"click, {'all done, each taken once (attempts 1)' if not bad else f'NOT ONCE: {bad}'}"
            f", {len(files)} export files for {len(exports)} exports"
            + (
                f" (export rows {exports[0][4]:,}, training on {trainings[0][4]:,} records)"
                if exports and trainings
                else ""
            )
            + "."
        )
    verdict &= not tracker.lease_violations and not tracker.blinding_violations and over == 0
    ratios = []
    for profile in args.profiles:
        ref, spread = (merged(list(r["tallies"].values())) for r in results if r["name"] == profile)
        walls = [r["wall"] for r in results if r["name"] == profile]
        ratios.append(
            f"- {profile}, spread across A and B against A alone (the reference, same run): "
            f"{(spread.acknowledged / walls[1]) / max(ref.acknowledged / walls[0], 1e-9):.2f}x "
            f"the decisions a second; next-record p95 "
            f"{sb.pct(spread.next_ms, 95) / sb.pct(ref.next_ms, 95):.2f}x, decision p95 "
            f"{sb.pct(spread.decide_ms, 95) / sb.pct(ref.decide_ms, 95):.2f}x."
        )
    out += [
        "",
        *ratios,
        *notes,
        f"- leases: {tracker.handed:,} records handed out, {len(tracker.lease_violations)} "
        "handed to a second reviewer while the first held them"
        + (f" (first: {tracker.lease_violations[:3]})" if tracker.lease_violations else "")
        + f"; {over} records with more votes than the stage requires.",
        f"- blinding: {len(tracker.blinding_violations)} answers showing another reviewer's "
        "vote on a record the reviewer had not voted on"
        + (f" (first: {tracker.blinding_violations[:3]})" if tracker.blinding_violations else "")
        + ".",
        "- task deliveries finished per worker: "
        + "; ".join(f"{name}: {dict(runs[name])}" for name in runs)
        + " (a delivery that found its job done or taken does nothing: attempts count the runs).",
        "",
    ]
    text = "\n".join(out)
    print(text)
    Path(args.out).write_text(text + "\n")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
