"""A 1,000-study meta-analysis as a real server runs it (issue 13, item 7).

    .venv/bin/python bench/analysis_bench.py [--stats fresh|missing] [--studies 1000]
        [--own-db] [--page-requests 60] [--runs 3] [--out bench/out/analysis.md]
    .venv/bin/python bench/analysis_bench.py --pool-only [--studies 1000] [--pool-repeats 7]

1. A database: a clone of the realistic benchmark database (bench/benchdb.py, fresh or missing
   statistics), or with ``--own-db`` an empty migrated one. Either is called
   ``reviewapp_synth_bench`` and dropped at the end.
2. Through the app's services, a new review in it with ``--studies`` included studies (title and
   abstract, then full text, single screening), each with extracted 2x2 counts on one form (the
   extractor's submitted entry is final), and a random-effects (REML) risk-ratio analysis.
3. Computing it: a real Celery worker (``celery -A reviewapp worker``) and Redis; the analyst's
   request (``analysis_compute_request``, what the page's button calls) queues an AnalysisRun and
   the worker pools, runs the bias tests and leave-one-out, stores the result and draws its SVG
   plots. Timed from the request to the run's status "done" (what the analyst waits for), and
   inside the worker (started_at to finished_at). ``--runs`` times.
4. The analysis page through gunicorn with reviewapp/gunicorn_conf.py (production settings,
   logged in through the login page): ``--page-requests`` sequential views, p50/p95 and bytes;
   the forest-plot image it links, the same.
5. ``manage.py pool`` on the same studies as a CSV, against a direct numpy computation of the same
   REML pool in a fresh interpreter (the script in NUMPY_REFERENCE) and ``python -c pass``, each
   run 7 times in this run; medians compared. A second reference also computes, with scipy, the
   p-value of Q and the Q-profile interval of tau² that ``pool`` prints (``pool`` computes them
   without scipy, whose import alone took more than three numpy references: distributions.py).
   ``--pool-only`` runs this part alone, on the same studies generated without a database.

Measured runs go under ``flock /work/wt/bench.lock`` (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench import common  # noqa: E402
from bench.common import (  # noqa: E402  (machine: fulltext_bench imports it from here)
    PASSWORD,
    free_port,
    gunicorn_argv,
    machine,
    server_env,
    wait_until_up,
)
from bench.screening_bench import pg_url  # noqa: E402  (one way to name a database)

PY = str(ROOT / ".venv" / "bin" / "python")
DB = "reviewapp_synth_bench"
SLUG = "synth-bench"

NUMPY_REFERENCE = r"""
import csv, json, math, sys
import numpy as np
FULL = len(sys.argv) > 2
if FULL:
    from scipy import optimize, special
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
a, b, c, d = (np.array([float(r[k]) for r in rows]) for k in ("ai", "bi", "ci", "di"))
add = np.where((a == 0) | (b == 0) | (c == 0) | (d == 0), 0.5, 0.0)
a, b, c, d = a + add, b + add, c + add, d + add
y = np.log(a / (a + b)) - np.log(c / (c + d))
v = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
k = len(y)
ymc = y - y.mean()
tau2 = max(0.0, (np.sum((ymc - ymc.mean()) ** 2) - (1 - 1 / k) * v.sum()) / (k - 1))
for _ in range(100):  # REML by Fisher scoring, closed forms for an intercept-only model
    w = 1 / (v + tau2); s = w.sum(); r = ymc - np.sum(w * ymc) / s
    trp = s - np.sum(w**2) / s
    spp = np.sum(w**2) - 2 * np.sum(w**3) / s + np.sum(w**2) ** 2 / s**2
    adj = (np.sum(w**2 * r**2) - trp) / spp
    while tau2 + adj < 0:
        adj /= 2
    tau2, old = tau2 + adj, tau2
    if abs(tau2 - old) < 1e-5:
        break
w = 1 / (v + tau2)
est = float(np.sum(w * y) / w.sum()); se = float(1 / math.sqrt(w.sum()))
wf = 1 / v
qe = float(np.sum(wf * (ymc - np.sum(wf * ymc) / wf.sum()) ** 2))
out = {"estimate": est, "se": se, "ci_lb": est - 1.959963984540054 * se,
       "ci_ub": est + 1.959963984540054 * se, "pval": math.erfc(abs(est / se) / math.sqrt(2)),
       "tau2": tau2, "Q": qe}
if FULL:
    out["Q_p"] = float(special.chdtrc(k - 1, qe))
    def q(t):
        ww = 1 / (v + t)
        return float(np.sum(ww * (ymc - np.sum(ww * ymc) / ww.sum()) ** 2))
    hi = max(100.0, 10 * tau2)
    lo_c, hi_c = special.chdtri(k - 1, 0.025), 2 * special.gammaincinv((k - 1) / 2, 0.025)
    out["tau2_ci"] = [optimize.brentq(lambda t: q(t) - crit, 0, hi) if q(0) > crit else 0.0
                      for crit in (lo_c, hi_c)]
print(json.dumps(out))
"""


def database(stats: str, own: bool, env: dict) -> str:
    """The bench database: a clone of the realistic one, or an empty migrated one."""
    if not own:
        sys.path.insert(0, str(ROOT))
        from bench.benchdb import clone

        return f"clone of the realistic benchmark database, {stats} statistics", clone(DB, stats)
    import psycopg2

    conn = psycopg2.connect(pg_url("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{DB}"')
    conn.close()
    subprocess.run(
        [PY, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": pg_url(DB)},
        check=True,
    )
    return "an empty database of its own (not the realistic one)", pg_url(DB)


def drop() -> None:
    import psycopg2

    conn = psycopg2.connect(pg_url("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    conn.close()


def trial_counts(k: int, seed: int = 13):
    """k trials' events and totals per arm: a risk ratio about 0.75, some heterogeneity."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n1, n2 = rng.integers(30, 400, k), rng.integers(30, 400, k)
    p2 = rng.uniform(0.05, 0.5, k)
    odds = p2 / (1 - p2) * np.exp(rng.normal(-0.3, 0.35, k))
    ai, ci = rng.binomial(n1, odds / (1 + odds)), rng.binomial(n2, p2)
    return ai, n1, ci, n2


def build(k: int, seed: int = 13) -> tuple[int, float]:
    """The review, its k extracted studies and the analysis, through the app's services."""
    from django.contrib.auth import get_user_model

    from reviewapp.extraction.services import (
        extraction_form_create,
        extraction_save,
        form_version_save,
    )
    from reviewapp.literature.models import Import, Record
    from reviewapp.reviews.constants import Role
    from reviewapp.reviews.models import Membership
    from reviewapp.reviews.services import review_create
    from reviewapp.screening.constants import Stage
    from reviewapp.screening.models import Report, StageSettings, Study
    from reviewapp.screening.services import decision_record
    from reviewapp.synthesis.selectors import outcome_choices
    from reviewapp.synthesis.services import analysis_create

    t = time.perf_counter()
    User = get_user_model()
    owner = User.objects.create_user("synth-bench-owner", password=PASSWORD)
    review = review_create(title="A thousand trials", slug=SLUG, owner=owner)
    StageSettings.objects.filter(review=review).update(reviewers_required=1)
    me = Membership.objects.get(review=review, user=owner)
    assert me.role == Role.OWNER
    form = extraction_form_create(membership=me, name="Trial data")
    form_version_save(
        membership=me,
        form=form,
        items=[{"section": "Outcomes", "label": "Death", "type": "dichotomous"}],
    )
    imp = Import.objects.create(review=review, file_name="trials.ris", format="ris", status="done")
    Record.objects.bulk_create(
        Record(
            review=review,
            source_import=imp,
            source_position=i + 1,
            title=f"Trial {i + 1} of a treatment against death",
            authors=[f"Author{i} A"],
            year=1990 + i % 30,
        )
        for i in range(k)
    )
    ai, n1, ci, n2 = trial_counts(k, seed)
    for i, record in enumerate(Record.objects.filter(review=review).order_by("source_position")):
        decision_record(membership=me, record=record, stage=Stage.TITLE_ABSTRACT, value="include")
        study = Study.objects.create(review=review, label=f"Trial {i + 1:04d}")
        Report.objects.create(review=review, record=record, study=study)
        decision_record(membership=me, record=record, stage=Stage.FULL_TEXT, value="include")
        extraction_save(
            membership=me,
            form=form,
            study=study,
            raw={
                "outcomes": [
                    {
                        "group": "outcomes_death",
                        "outcome": "Death",
                        "arm1_events": str(ai[i]),
                        "arm1_total": str(n1[i]),
                        "arm2_events": str(ci[i]),
                        "arm2_total": str(n2[i]),
                    }
                ]
            },
            expected_revision=0,
            submit=True,
        )
    (choice,) = outcome_choices(review)
    analysis = analysis_create(
        membership=me,
        name="Death, all trials",
        outcome_key=choice.value,
        measure="RR",
        model="random",
        method="REML",
    )
    return analysis.pk, time.perf_counter() - t


def compute_runs(analysis_id: int, runs: int, queue: str) -> list[dict]:
    """Ask for the computation as the analyst does; wait for the worker to finish it."""
    from reviewapp.reviews.models import Membership
    from reviewapp.synthesis.models import Analysis, AnalysisRun
    from reviewapp.synthesis.services import analysis_compute_request

    analysis = Analysis.objects.get(pk=analysis_id)
    me = Membership.objects.get(review=analysis.review, user__username="synth-bench-owner")
    timings = []
    for _ in range(runs):
        t = time.perf_counter()
        run = analysis_compute_request(membership=me, analysis=analysis, queue=queue)
        assert isinstance(run, AnalysisRun), "expected the worker path"
        while True:
            run.refresh_from_db()
            if run.status in ("done", "failed"):
                break
            time.sleep(0.02)
        waited = time.perf_counter() - t
        assert run.status == "done", run.error
        result = run.result
        svgs_at = pngs_at = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            result.refresh_from_db()
            if svgs_at is None and result.forest_svg and result.plots_pending_since is None:
                svgs_at = time.perf_counter() - t
            if result.forest_png and result.funnel_png:
                pngs_at = time.perf_counter() - t
                break
            time.sleep(0.05)
        timings.append(
            {
                "request_to_done_s": waited,
                "in_worker_s": (run.finished_at - run.started_at).total_seconds(),
                "svgs_ready_s": svgs_at,
                "pngs_ready_s": pngs_at,
                "loo_rows": len(result.results["leave_one_out"]),
                "studies": result.studies_count,
            }
        )
    return timings


def write_csv(analysis_id: int, path: Path) -> None:
    from reviewapp.synthesis.models import Analysis
    from reviewapp.synthesis.selectors import analysis_latest_result

    rows = analysis_latest_result(Analysis.objects.get(pk=analysis_id), with_inputs=True).inputs[
        "rows"
    ]
    lines = ["study,ai,bi,ci,di"] + [
        f'"{r["study"]}",{r["ai"]},{r["bi"]},{r["ci"]},{r["di"]}' for r in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Client(common.Client):
    # As this bench has always asked: a 60 s timeout, no second attempt on a dropped connection.
    timeout = 60
    attempts = 1


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(url: str, client: Client, n: int) -> dict:
    ms, sizes = [], set()
    for _ in range(n):
        t = time.perf_counter()
        status, body = client.request("GET", url)
        ms.append(1000 * (time.perf_counter() - t))
        assert status == 200, (url, status)
        sizes.add(len(body))
    return {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "max_ms": max(ms), "bytes": max(sizes)}


POOL_STEPS = r"""
import io, json, sys, time
t = [time.perf_counter()]
import numpy
t.append(time.perf_counter())
from reviewapp.synthesis.stats.cli import fast_main
t.append(time.perf_counter())
assert fast_main(sys.argv[1:], io.StringIO().write)
t.append(time.perf_counter())
assert not any(m.startswith("scipy") for m in sys.modules), "pool imported scipy"
names = ["import numpy", "import the rest of the pool command line",
         "read, pool and format the result"]
print(json.dumps({n: b - a for n, a, b in zip(names, t, t[1:])}))
"""


def pool_figures(csv_path: Path, env: dict, out_dir: Path, n: int) -> dict:
    """``manage.py pool`` against the references, each the median of n fresh interpreters.

    Also the Django command itself (``-v 1`` is its default verbosity, but an option of Django's,
    so ``manage.py``'s fast path hands the command line to Django): what ``pool`` cost before it
    ran without Django, measured in the same run.
    """
    ref_path = out_dir / "pool_numpy_reference.py"
    ref_path.write_text(NUMPY_REFERENCE, encoding="utf-8")
    pool_cmd = [PY, "manage.py", "pool", str(csv_path), "--measure", "RR", "--model", "random", "--json"]  # fmt: skip
    # Interleaved rounds, so that a burst of load from other work on the machine falls on all.
    runs: dict[str, list[float]] = {}
    outs: dict[str, str] = {}
    commands = {
        "bare": [PY, "-c", "pass"],
        "numpy": [PY, str(ref_path), str(csv_path)],
        "scipy": [PY, str(ref_path), str(csv_path), "full"],
        "pool": pool_cmd,
        "django": [*pool_cmd, "-v", "1"],
    }
    for _ in range(n):
        for name, cmd in commands.items():
            t = time.perf_counter()
            done = subprocess.run(
                cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True
            )
            runs.setdefault(name, []).append(time.perf_counter() - t)
            outs[name] = done.stdout
    assert outs["pool"] == outs["django"], "the fast path and the Django command differ"
    ours, theirs = json.loads(outs["pool"]), json.loads(outs["numpy"])
    agree = max(abs(ours[key] - theirs[key]) for key in ("estimate", "se", "tau2", "Q"))
    # Where `pool`'s time goes, step by step in one fresh interpreter (POOL_STEPS).
    steps: dict[str, list[float]] = {}
    for _ in range(n):
        done = subprocess.run(
            [PY, "-c", POOL_STEPS, *pool_cmd[3:]], cwd=ROOT, env=env, capture_output=True,
            text=True, check=True,
        )  # fmt: skip
        for name, seconds in json.loads(done.stdout).items():
            steps.setdefault(name, []).append(seconds)
    figures = {name: statistics.median(times) for name, times in runs.items()}
    figures |= {f"step {name}": statistics.median(t) for name, t in steps.items()}
    return {**figures, "agree": agree, "load": os.getloadavg()[0]}


def pool_lines(cli: dict, n: int) -> list[str]:
    return [
        f"| `pool` on the same studies (median of {n}, fresh interpreter each) | s |",
        "|---|---|",
        f"| `python -c pass` | {cli['bare']:.3f} |",
        f"| numpy reference (interpreter, numpy, CSV, REML) | {cli['numpy']:.3f} |",
        f"| numpy + scipy reference (also p-values, tau² Q-profile CI) | {cli['scipy']:.3f} |",
        f"| `manage.py pool --json` | {cli['pool']:.3f} |",
        f"| the Django command (`manage.py pool --json -v 1`), for comparison | {cli['django']:.3f} |",
        *[
            f"| of `pool` (median): {key.removeprefix('step ')} | {value:.3f} |"
            for key, value in cli.items()
            if key.startswith("step ")
        ],
        "",
        f"`pool` / numpy reference = {cli['pool'] / cli['numpy']:.1f}x; `pool` / (numpy reference"
        f" + bare interpreter) = {cli['pool'] / (cli['numpy'] + cli['bare']):.1f}x; `pool` / "
        f"numpy+scipy reference = {cli['pool'] / cli['scipy']:.1f}x; the Django command / numpy "
        f"reference = {cli['django'] / cli['numpy']:.1f}x. Same output both ways; `pool` and the "
        f"numpy reference agree within {cli['agree']:.1e}. Load average {cli['load']:.1f}.",
    ]


def pool_only(args) -> int:
    """``--pool-only``: the same studies as the full run builds (seed 13), no database."""
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"DJANGO_SETTINGS_MODULE": "reviewapp.settings", "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(48), "DJANGO_ALLOWED_HOSTS": "127.0.0.1"}  # fmt: skip
    ai, n1, ci, n2 = trial_counts(args.studies)
    csv_path = out_dir / "analysis-studies.csv"
    rows = [
        f'"Trial {i + 1:04d}",{ai[i]},{n1[i] - ai[i]},{ci[i]},{n2[i] - ci[i]}'
        for i in range(args.studies)
    ]
    csv_path.write_text("\n".join(["study,ai,bi,ci,di", *rows]) + "\n", encoding="utf-8")
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cli = pool_figures(csv_path, env, out_dir, args.pool_repeats)
    lines = [
        f"## `pool` on {args.studies:,} studies (issue 13 item 7, bench/analysis_bench.py --pool-only)",
        "",
        f"Run {started.isoformat()} on {machine()}.",
        "",
        *pool_lines(cli, args.pool_repeats),
    ]
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stats", choices=["fresh", "missing"], default="fresh")
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--own-db", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page-requests", type=int, default=60)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the database --keep left")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "analysis.md"))
    parser.add_argument(
        "--pool-only",
        action="store_true",
        help="only part 5 (manage.py pool against the references): no database, no worker",
    )
    parser.add_argument("--pool-repeats", type=int, default=7)
    args = parser.parse_args()
    if args.pool_only:
        return pool_only(args)

    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(
        static_root=out_dir / "static",
        media_root=out_dir / "media-synth",
        REDIS_URL=args.redis_url,
    )
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    children: list[subprocess.Popen] = []
    try:
        if args.reuse:
            # Development only: the database a previous --keep run left, with its studies.
            described, url = "a database kept from an earlier run (development)", pg_url(DB)
        else:
            described, url = database(args.stats, args.own_db, env)
        env["DATABASE_URL"] = url
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM reviews_review")
            reviews = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM literature_record")
            records = cur.fetchone()[0]
        if args.reuse:
            from reviewapp.synthesis.models import Analysis

            analysis_id, build_s = Analysis.objects.get(review__slug=SLUG).pk, 0.0
        else:
            analysis_id, build_s = build(args.studies)
        print(f"built {args.studies} extracted studies in {build_s:.0f} s", flush=True)

        queue = f"synth-bench-{secrets.token_hex(4)}"
        worker_log = open(out_dir / "analysis-worker.log", "w")  # noqa: SIM115
        worker = subprocess.Popen(
            [PY, "-m", "celery", "-A", "reviewapp", "worker", "--pool=solo", "-Q", queue,
             "-n", f"{queue}@bench", "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        children.append(worker)
        from reviewapp.celery import app

        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{queue}@bench"], timeout=1.0):
            assert time.monotonic() < deadline, "worker did not start"
        compute = compute_runs(analysis_id, args.runs, queue)
        print("compute", compute, flush=True)
        worker_log.flush()
        steps = [
            line.split(": ", 1)[1].strip()
            for line in (out_dir / "analysis-worker.log").read_text().splitlines()
            if " computed from " in line or " plots stored in " in line
        ]

        subprocess.run(
            [PY, "manage.py", "collectstatic", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        port = free_port()
        gunicorn_log = open(out_dir / "analysis-gunicorn.log", "w")  # noqa: SIM115
        gunicorn = subprocess.Popen(
            gunicorn_argv(port, bin_dir=Path(PY).parent),
            cwd=ROOT, env=env, stdout=gunicorn_log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        children.append(gunicorn)
        wait_until_up(Client, port, "/healthz", tries=150)
        client = Client(port)
        client.login("synth-bench-owner")
        page = f"/reviews/{SLUG}/analyses/{analysis_id}/"
        status, html = client.request("GET", page)
        assert status == 200
        forest = re.search(rb'<img src="([^"]+forest\.svg[^"]*)"', html).group(1).decode()
        pages = {
            "analysis page": timed(page, client, args.page_requests),
            "analysis page, page 2 of the tables": timed(
                page + "?page=2", client, args.page_requests
            ),
            "forest plot image (SVG)": timed(
                forest.replace("&amp;", "&"), client, args.page_requests
            ),
        }
        print("pages", pages, flush=True)

        csv_path = out_dir / "analysis-studies.csv"
        write_csv(analysis_id, csv_path)
        cli = pool_figures(csv_path, env, out_dir, args.pool_repeats)
        print("pool", cli, flush=True)
    finally:
        for child in reversed(children):
            try:
                os.killpg(child.pid, signal.SIGTERM)
                child.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(child.pid, signal.SIGKILL)
        if not args.keep and not args.reuse:
            from django.db import connections

            connections.close_all()
            drop()

    lines = [
        f"## Analyses at {args.studies:,} studies (issue 13 item 7, bench/analysis_bench.py)",
        "",
        f"Run {started.isoformat()} on {machine()}; PostgreSQL and Redis on 127.0.0.1. Database: "
        f"{described} ({reviews} reviews, {records:,} records before the bench's review was "
        f"added). Building the {args.studies:,} extracted studies through the services took "
        f"{build_s:.0f} s.",
        "",
        "| computing the analysis (REML, bias tests, leave-one-out), through the worker | s |",
        "|---|---|",
    ]
    for i, c in enumerate(compute, 1):
        lines.append(
            f"| run {i}: request to result shown (worker: {c['in_worker_s']:.2f} s) | "
            f"{c['request_to_done_s']:.2f} |"
        )
        if c["svgs_ready_s"] is not None:
            lines.append(
                f"| run {i}: its SVG plots stored (the page shows them), from the request | "
                f"{c['svgs_ready_s']:.2f} |"
            )
        if c["pngs_ready_s"] is not None:
            lines.append(
                f"| run {i}: PNG downloads stored, from the request | {c['pngs_ready_s']:.2f} |"
            )
    if steps:
        lines += ["", "Where the worker's time went (its log, in order):", ""]
        lines += [f"- {step.split('] ', 1)[-1]}" for step in steps]
    lines += [
        "",
        f"| through gunicorn, {args.page_requests} sequential GETs | p50 ms | p95 ms | max ms | bytes |",
        "|---|---|---|---|---|",
    ]
    for name, p in pages.items():
        lines.append(
            f"| {name} | {p['p50_ms']:.0f} | {p['p95_ms']:.0f} | {p['max_ms']:.0f} | {p['bytes']:,} |"
        )
    lines += ["", *pool_lines(cli, args.pool_repeats)]
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
