"""Lists, pages and exports at 100,000 records (issue 13 item 4), served as in production.

    .venv/bin/python bench/lists_bench.py [--stats fresh missing] [--repeat 20]
    flock /work/wt/bench.lock .venv/bin/python bench/lists_bench.py      (a measured run)

For each statistics mode asked (default both):
1. clones the realistic benchmark database (bench/benchdb.py: 50 reviews, about 1,000,000 records;
   the measured review, slug `bench`, 100,000) as `reviewapp_lists_bench`, migrated by this
   checkout, with fresh statistics (ANALYZE) or none (no ANALYZE, autovacuum off);
2. starts gunicorn with reviewapp/gunicorn_conf.py and a Celery worker, sessions, cache and
   broker in Redis (--redis-url, a database of its own, emptied first), as docker-compose.yml
   runs them; everything on 127.0.0.1;
3. logs in through the login page as the owner, a reviewer and the analyst of the review and
   asks each page and API list --repeat times, one request at a time (after one unmeasured
   warm-up request): the records list (first page, a page in the middle, a common word, a PMID,
   a word no title holds), a record, the duplicates page (first page, a page in the middle,
   filtered by status, rule and confidence, by source), the sources page, and the API's lists
   (reviews, records first page, a page in the middle, 1,000 a page, decisions first page and a
   page in the middle, by stage, forms, extractions); /healthz/live through the same gunicorn is
   the reference. p50/p95/max and the bytes of each answer;
4. counts the queries of each of those requests once, in a child process with the Django test
   client against the same database (the server's own queries cannot be seen from outside);
5. times the big exports as the analyst asks for them on the downloads page (decisions-long and
   records-wide: background jobs at this size): the answer to the request, the job finished, the
   file's first byte and its last, and the peak RSS of every gunicorn and Celery process meanwhile;
6. writes bench/out/lists.md and drops the clone.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import json
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.common import (  # noqa: E402
    BIN,
    free_port,
    gunicorn_argv,
    machine,
    server_env,
    stop,
    wait_until_up,
)

OUT = ROOT / "bench" / "out"
DB = "reviewapp_lists_bench"
SLUG = "bench"
ROLES = {"owner": "bench-owner", "reviewer": "bench-r0", "analyst": "bench-analyst"}


# --- HTTP ---------------------------------------------------------------------------------------


class Client:
    """One browser: its cookies, one keep-alive connection."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None, *, first_byte=None):
        """(status, headers, payload bytes, seconds to the first byte of the body, seconds)."""
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        start = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        chunks = [response.read(1) if first_byte else b""]
        ttfb = time.perf_counter() - start
        chunks.append(response.read())
        total = time.perf_counter() - start
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, response.headers, b"".join(chunks), ttfb, total

    def login(self, username: str, password: str) -> None:
        status, *_ = self.request("GET", "/accounts/login/")
        assert status == 200, status
        fields = {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": self.cookies["csrftoken"],
        }
        status, *_ = self.request("POST", "/accounts/login/", fields)
        assert status == 302, f"login of {username} answered {status}"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


# --- what to ask ------------------------------------------------------------------------------


def cursor(*values) -> str:
    return base64.urlsafe_b64encode(
        json.dumps({"f": 1, "k": list(values)}, separators=(",", ":")).encode()
    ).decode()


def facts(url: str) -> dict:
    """Ids and words of the bench review to build the URLs from (read before the run)."""
    import psycopg2

    conn = psycopg2.connect(url)
    with conn.cursor() as c:
        c.execute("SELECT id FROM reviews_review WHERE slug = %s", [SLUG])
        (review_id,) = c.fetchone()
        c.execute(
            "SELECT count(*), min(id), max(id) FROM literature_record WHERE review_id = %s",
            [review_id],
        )
        n_records, first, last = c.fetchone()
        c.execute(
            "SELECT id, pmid FROM literature_record WHERE review_id = %s AND id >= %s "
            "AND pmid <> '' ORDER BY review_id, id LIMIT 1",
            [review_id, (first + last) // 2],
        )
        middle, pmid = c.fetchone()
        c.execute(
            "SELECT count(*), count(DISTINCT primary_id) FROM literature_duplicatelink "
            "WHERE review_id = %s AND undone_at IS NULL",
            [review_id],
        )
        n_links, n_clusters = c.fetchone()
        c.execute(
            "SELECT duplicate_id FROM literature_duplicatelink WHERE review_id = %s "
            "AND undone_at IS NULL ORDER BY id LIMIT 1",
            [review_id],
        )
        row = c.fetchone()
        duplicate = row[0] if row else middle
        c.execute("SELECT id FROM literature_import WHERE review_id = %s ORDER BY id", [review_id])
        imports = [r[0] for r in c.fetchall()]
        c.execute("SELECT count(*) FROM screening_decision WHERE review_id = %s", [review_id])
        (n_decisions,) = c.fetchone()
        c.execute(
            "SELECT created_at, id FROM screening_decision WHERE review_id = %s "
            "ORDER BY review_id, created_at, id OFFSET %s LIMIT 1",
            [review_id, n_decisions // 2],
        )
        row = c.fetchone()
        decision_mid = (row[0].isoformat(), row[1]) if row else None
        c.execute("SELECT count(*) FROM literature_record")
        (all_records,) = c.fetchone()
        c.execute("SELECT count(*) FROM reviews_review")
        (n_reviews,) = c.fetchone()
    conn.close()
    return {
        "review_id": review_id,
        "records": n_records,
        "middle": middle,
        "pmid": pmid,
        "links": n_links,
        "clusters": n_clusters,
        "duplicate": duplicate,
        "imports": imports,
        "decisions": n_decisions,
        "decision_mid": decision_mid,
        "all_records": all_records,
        "reviews": n_reviews,
    }


def targets(f: dict) -> list[tuple[str, str]]:
    base = f"/reviews/{SLUG}"
    api = f"/api/reviews/{SLUG}"
    mid_page = max(1, f["clusters"] // 20 // 2)
    urls = [
        ("records list", f"{base}/records/"),
        ("records list, a page in the middle", f"{base}/records/?after={f['middle']}"),
        ("records list, search a common word", f"{base}/records/?q=randomized"),
        ("records list, search a PMID", f"{base}/records/?q={f['pmid']}"),
        ("records list, search a word no title has", f"{base}/records/?q=zzqxw"),
        ("record detail", f"{base}/records/{f['middle']}/"),
        ("record detail, a duplicate", f"{base}/records/{f['duplicate']}/"),
        ("duplicates", f"{base}/duplicates/"),
        ("duplicates, a page in the middle", f"{base}/duplicates/?page={mid_page}"),
        ("duplicates, needing a reviewer", f"{base}/duplicates/?status=needs_review"),
        ("duplicates, by DOI, confidence exact", f"{base}/duplicates/?rule=doi&confidence=exact"),
    ]
    if f["imports"]:
        urls.append(
            ("duplicates, from one file", f"{base}/duplicates/?source=import-{f['imports'][-1]}")
        )
    urls += [
        ("sources", f"{base}/sources/"),
        ("API reviews", "/api/reviews/"),
        ("API records", f"{api}/records/"),
        (
            "API records, a page in the middle",
            f"{api}/records/?cursor={cursor(f['review_id'], f['middle'])}",
        ),
        ("API records, 1,000 a page", f"{api}/records/?page_size=1000"),
        ("API decisions", f"{api}/decisions/"),
    ]
    if f["decision_mid"]:
        urls.append(
            (
                "API decisions, a page in the middle",
                f"{api}/decisions/?cursor={cursor(f['review_id'], *f['decision_mid'])}",
            )
        )
    urls += [
        ("API decisions, full text", f"{api}/decisions/?stage=ft"),
        ("API forms", f"{api}/forms/"),
        ("API extractions", f"{api}/extractions/"),
    ]
    return urls


# --- queries, counted in a child with the test client -----------------------------------------

COUNT_CODE = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
settings.ALLOWED_HOSTS = ["*"]
roles, urls = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {}
for role, username in roles.items():
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    for name, url in urls:
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
        out[f"{role}|{name}"] = len(queries)
print(json.dumps(out))
"""


def count_queries(env: dict, urls) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", COUNT_CODE, json.dumps(ROLES), json.dumps(urls)],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- processes --------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (gunicorn's workers, Celery's pool), from /proc's parents."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        out += children
        todo += children
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssWatch:
    """How much each process of a tree grew while watched (RSS sampled every 50 ms): per tree, the
    process that grew most, with its RSS before and at its peak. A process's own growth, not the
    largest RSS of the tree: gunicorn's master and Celery's main process are as large as the
    workers, so the largest RSS alone would hide a worker that grew."""

    def __init__(self, roots: dict[str, int]):
        self.roots = roots
        self.first: dict[str, dict[int, float]] = {}
        self.high: dict[str, dict[int, float]] = {}
        self._stop = threading.Event()

    def _sample(self) -> None:
        for name, root in self.roots.items():
            first, high = self.first.setdefault(name, {}), self.high.setdefault(name, {})
            for pid in [root, *descendants(root)]:
                rss = rss_mb(pid)
                first.setdefault(pid, rss)
                high[pid] = max(high.get(pid, 0.0), rss)

    def __enter__(self):
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.05):
            self._sample()

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    def grew(self, name: str) -> tuple[float, float]:
        """(RSS before, peak RSS) of the process of tree ``name`` that grew most."""
        first, high = self.first[name], self.high[name]
        pid = max(high, key=lambda p: high[p] - first[p])
        return first[pid], high[pid]


def start(name: str, argv: list[str], env: dict) -> subprocess.Popen:
    log = open(OUT / f"lists-{name}.log", "w")  # noqa: SIM115  (open for the run)
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


# --- a run ------------------------------------------------------------------------------------


def measure_pages(port: int, password: str, urls, repeat: int) -> dict:
    results: dict[str, dict] = {}
    for role, username in ROLES.items():
        client = Client(port)
        client.login(username, password)
        for name, url in [*urls, ("/healthz/live (reference)", "/healthz/live")]:
            times, sizes, statuses = [], [], set()
            client.request("GET", url)  # warm-up, not measured
            for _ in range(repeat):
                status, _h, body, _ttfb, total = client.request("GET", url)
                times.append(total * 1000)
                sizes.append(len(body))
                statuses.add(status)
            results[f"{role}|{name}"] = {
                "p50": statistics.median(times),
                "p95": pct(times, 95),
                "max": max(times),
                "bytes": round(statistics.mean(sizes)),
                "status": sorted(statuses),
            }
    return results


JOB = re.compile(r"/downloads/(\d+)/")


def measure_export(port: int, password: str, kind: str, roots: dict[str, int]) -> dict:
    client = Client(port)
    client.login(ROLES["analyst"], password)
    status, *_ = client.request("GET", f"/reviews/{SLUG}/downloads/")
    with RssWatch(roots) as watch:
        t0 = time.perf_counter()
        status, headers, body, _ttfb, asked = client.request(
            "POST",
            f"/reviews/{SLUG}/downloads/new/",
            {"kind": kind, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        )
        location = headers.get("Location", "")
        result = {"kind": kind, "answer_status": status, "answer_ms": asked * 1000}
        match = JOB.search(location)
        if status == 200:
            # Sent at once (a small export): the body is the file.
            result.update(
                file_ttfb_ms=_ttfb * 1000,
                file_total_ms=asked * 1000,
                bytes=len(body),
                rows=max(0, body.count(b"\n") - 1),
            )
        elif match:
            job = match.group(1)
            while True:
                st, _h, page, *_ = client.request("GET", f"/reviews/{SLUG}/downloads/{job}/")
                text = page.decode("utf-8", "replace")
                if "/file/" in text or "failed" in text.lower() or time.perf_counter() - t0 > 900:
                    break
                time.sleep(0.25)
            result["job_done_s"] = time.perf_counter() - t0
            st, _h, data, ttfb, total = client.request(
                "GET", f"/reviews/{SLUG}/downloads/{job}/file/", first_byte=True
            )
            result.update(
                file_status=st,
                file_ttfb_ms=ttfb * 1000,
                file_total_ms=total * 1000,
                bytes=len(data),
                rows=max(0, data.count(b"\n") - 1),
            )
        result["total_s"] = time.perf_counter() - t0
    result["rss_base"] = {name: watch.grew(name)[0] for name in roots}
    result["rss_peak"] = {name: watch.grew(name)[1] for name in roots}
    return result


def run_mode(stats: str, args, env_base: dict) -> dict:
    from bench.benchdb import PASSWORD, TEMPLATE, clone, drop

    t = time.perf_counter()
    url = clone(DB, stats, template=args.template or TEMPLATE)
    clone_s = time.perf_counter() - t
    env = {**env_base, "DATABASE_URL": url}
    f = facts(url)
    urls = targets(f)
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    port = free_port()
    web = worker = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        worker = start(
            f"worker-{stats}",
            [str(BIN / "celery"), "-A", "reviewapp", "worker", "--loglevel=INFO",
             "--concurrency=1", "-n", f"lists-{secrets.token_hex(3)}@bench",
             "--without-gossip", "--without-mingle"],
            env,
        )  # fmt: skip
        web = start(
            f"gunicorn-{stats}",
            gunicorn_argv(port),
            env,
        )  # fmt: skip
        wait_until_up(Client, port, "/healthz/live")
        queries = count_queries(env, urls) if not args.skip_pages else {}
        pages = measure_pages(port, PASSWORD, urls, args.repeat) if not args.skip_pages else {}
        exports = [
            measure_export(port, PASSWORD, kind, {"gunicorn": web.pid, "celery": worker.pid})
            for kind in args.exports
        ]
    finally:
        stop(web, timeout=30)
        stop(worker, timeout=30)
        if not args.keep:
            drop(DB)
    return {
        "stats": stats,
        "clone_s": clone_s,
        "facts": f,
        "urls": urls,
        "queries": queries,
        "pages": pages,
        "exports": exports,
    }


# --- report -----------------------------------------------------------------------------------


def report(runs: list[dict], started: str, target_ms: float) -> str:
    lines = [f"Run {started} on {machine()}.", ""]
    for run in runs:
        f = run["facts"]
        lines += [
            f"### statistics {run['stats']}",
            "",
            f"Database: {f['reviews']} reviews, {f['all_records']:,} records; the bench review "
            f"{f['records']:,} records, {f['links']:,} active duplicate links in "
            f"{f['clusters']:,} clusters, {f['decisions']:,} decisions (clone and migrate "
            f"{run['clone_s']:.0f} s).",
            "",
        ]
        missed = []
        if run["pages"]:
            lines += [
                "| page | role | p50 ms | p95 ms | max ms | p95 / healthz p50 | queries | bytes |",
                "|---|---|---:|---:|---:|---:|---:|---:|",
            ]
        for role in ROLES if run["pages"] else []:
            ref = run["pages"][f"{role}|/healthz/live (reference)"]["p50"]
            for name, _url in [*run["urls"], ("/healthz/live (reference)", "")]:
                p = run["pages"][f"{role}|{name}"]
                q = run["queries"].get(f"{role}|{name}", "")
                bad = "" if p["status"] == [200] else f" (HTTP {p['status']})"
                lines.append(
                    f"| {name}{bad} | {role} | {p['p50']:.1f} | {p['p95']:.1f} | {p['max']:.1f} "
                    f"| {p['p95'] / ref:.1f}x | {q} | {p['bytes']:,} |"
                )
                if p["p95"] > target_ms and "reference" not in name:
                    missed.append(f"{name} ({role}): p95 {p['p95']:.0f} ms")
        if run["pages"]:
            lines += ["", f"p95 over {target_ms:.0f} ms: " + ("; ".join(missed) or "none"), ""]
        lines += [
            "| export | answer ms | job done s | file first byte ms | file total ms | rows | MB "
            "| gunicorn worker RSS MB before → peak | Celery worker RSS MB before → peak |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for e in run["exports"]:
            lines.append(
                f"| {e['kind']} | {e['answer_ms']:.0f} | {e.get('job_done_s', 0):.1f} "
                f"| {e.get('file_ttfb_ms', 0):.0f} | {e.get('file_total_ms', 0):.0f} "
                f"| {e.get('rows', '')} | {e.get('bytes', 0) / 1e6:.1f} "
                f"| {e['rss_base']['gunicorn']:.0f} → {e['rss_peak']['gunicorn']:.0f} "
                f"| {e['rss_base']['celery']:.0f} → {e['rss_peak']['celery']:.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


def summary(runs: list[dict], target_ms: float) -> str:
    """One line per page for both statistics modes: the three roles' p95 side by side."""
    lines = []
    for run in runs:
        if not run["pages"]:
            continue
        refs = {r: run["pages"][f"{r}|/healthz/live (reference)"]["p50"] for r in ROLES}
        lines += [
            f"#### statistics {run['stats']}",
            "",
            "| page | queries | bytes | p95 ms owner / reviewer / analyst | worst p95 / healthz p50 |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, _url in [*run["urls"], ("/healthz/live (reference)", "")]:
            pages = [run["pages"][f"{role}|{name}"] for role in ROLES]
            counts = sorted({str(run["queries"].get(f"{role}|{name}", "")) for role in ROLES})
            sizes = [p["bytes"] for p in pages]
            size = f"{min(sizes):,}" + (f"-{max(sizes):,}" if max(sizes) != min(sizes) else "")
            p95 = [
                f"**{p['p95']:.0f}**" if p["p95"] > target_ms else f"{p['p95']:.0f}" for p in pages
            ]
            worst = max(p["p95"] / refs[role] for p, role in zip(pages, ROLES, strict=True))
            bad = "" if all(p["status"] == [200] for p in pages) else " (not all 200)"
            lines.append(
                f"| {name}{bad} | {'/'.join(counts)} | {size} | {' / '.join(p95)} | {worst:.0f}x |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stats", nargs="+", default=["fresh", "missing"])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--target-ms", type=float, default=300)
    parser.add_argument(
        "--exports", nargs="*", default=["decisions-long", "records-wide"], metavar="KIND"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--keep", action="store_true", help="keep the clone afterwards")
    parser.add_argument("--skip-pages", action="store_true", help="only the exports")
    parser.add_argument(
        "--template", default="", help="another benchdb template (a small development build)"
    )
    parser.add_argument("--out", default=str(OUT / "lists.md"))
    parser.add_argument(
        "--summary", metavar="JSON", help="only print the one-line-per-page tables of a past run"
    )
    args = parser.parse_args()
    if args.summary:
        print(summary(json.loads(Path(args.summary).read_text()), args.target_ms))
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    env = server_env(
        static_root=OUT / "static",
        media_root=OUT / "media",
        REDIS_URL=args.redis_url,
        # The bench asks the API hundreds of times an hour per user: the production default
        # (2000/hour) would answer 429 to the bench, not to a person.
        API_RATE_USER="1000000/hour",
    )
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    runs = []
    for stats in args.stats:
        print(f"--- statistics {stats}", flush=True)
        runs.append(run_mode(stats, args, env))
        text = report(runs, started, args.target_ms)
        Path(args.out).write_text(text)
        Path(args.out).with_suffix(".json").write_text(json.dumps(runs, indent=1, default=str))
    print(report(runs, started, args.target_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
