"""Full texts at scale (issue 18 point 5): open-access retrieval and bulk matching as the app runs them.

    .venv/bin/python bench/fulltext_bench.py [--records 1000] [--pdfs 500] [--no-key]
        [--serial-too] [--skip-retrieval] [--skip-bulk] [--redis-url redis://127.0.0.1:6379/9]
        [--out bench/out/fulltext.md]

1. Retrieval. Fake PubMed Central (Entrez elink, the OA service and its file host), Unpaywall and
   20 publishers' file hosts (tests/fake_openaccess.py, on 127.0.0.1 and 127.0.0.2-21) that
   enforce the real services' limits: NCBI 10 requests a second with an API key (3 with
   ``--no-key``), Unpaywall 10 a second, each publisher 2 a second (what the app allows itself per
   host). A request beyond its limit (the limit+1-th within 0.95 s) is answered 429, as NCBI does.
   ``--records`` records at full text: half with a PDF in PMC, 30% only through Unpaywall, 10% in
   PMC but not open access and closed in Unpaywall, 10% with a DOI Unpaywall does not know. The
   screener's request (``retrieval_request``, what the page's button calls) queues the run and a
   real Celery worker (``celery -A reviewapp worker``) does it. Reported: time from the request
   to "done" against the rate-limit floor, the requests each service needed divided by its rate
   (the slowest service sets it); requests refused 429. ``--serial-too`` runs it again with
   RETRIEVAL_FETCH_THREADS=1 (one record at a time, as before this benchmark) for comparison.
2. Bulk matching. ``--pdfs`` PDFs in one zip, each planted with one kind of evidence (DOI in the
   metadata only, DOI only in the first page's text, PMID only in the text, the file name only,
   the title only, near-duplicate titles, articles not in the review), with the known answer.
   Uploaded through ``bulk_stage`` (what the page's form calls), matched by the worker's
   BulkMatch job. Reported: PDFs a second from upload to "matched", precision and recall per
   kind, against a reference measured in the same run: bare pypdf reading the same files
   (opening each and extracting the metadata and first two pages' text, as matching needs).

Its own database (``reviewapp_fulltext_bench``, dropped at the end) and media folder. Measured
runs go under ``flock /work/wt/bench.lock`` (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import io
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.analysis_bench import machine  # noqa: E402
from bench.screening_bench import pg_url  # noqa: E402
from tests.fake_openaccess import FakeOpenAccess  # noqa: E402
from tests.pdf_builder import pdf_bytes  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
DB = "reviewapp_fulltext_bench"
PUBLISHERS = 20
WINDOW = 0.95  # seconds: the limit+1-th request inside it is refused
UNPAYWALL_RATE = 10.0
HOST_RATE = 2.0


# --- fakes that enforce the services' limits -------------------------------------------------


class LimitedFake(FakeOpenAccess):
    """The open-access fakes, answering 429 beyond each service's rate, with publisher hosts."""

    def __init__(self, ncbi_rate: float) -> None:
        super().__init__()
        self.rates = {"ncbi": ncbi_rate, "unpaywall": UNPAYWALL_RATE}
        self.admitted: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.counts: collections.Counter = collections.Counter()
        self.refused: collections.Counter = collections.Counter()
        self.gate = threading.Lock()
        self.file_host: dict[str, int] = {}
        self.publishers = [
            ThreadingHTTPServer((f"127.0.0.{2 + k}", 0), self._handler()) for k in range(PUBLISHERS)
        ]
        for server in self.publishers:
            server.daemon_threads = True

    def start(self) -> None:
        self.thread.start()
        for server in self.publishers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        for server in [self.server, *self.publishers]:
            server.shutdown()
            server.server_close()

    def reset_counts(self) -> None:
        with self.gate:
            self.counts.clear()
            self.refused.clear()

    def group(self, host: str, path: str) -> str:
        if host != "127.0.0.1":
            return f"publisher {host}"
        return "unpaywall" if path.startswith("/v2/") else "ncbi"

    def rate(self, group: str) -> float:
        return self.rates.get(group, HOST_RATE)

    def admit(self, group: str) -> bool:
        limit = self.rate(group)
        now = time.monotonic()
        with self.gate:
            seen = self.admitted[group]
            while seen and seen[0] < now - WINDOW:
                seen.popleft()
            if len(seen) >= limit:
                self.refused[group] += 1
                return False
            seen.append(now)
            self.counts[group] += 1
            return True

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._serve(b"")

            def do_POST(self) -> None:
                # E-utilities take long id lists as a form POST.
                self._serve(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _serve(self, form: bytes) -> None:
                parts = urlsplit(self.path)
                path, query = unquote(parts.path), parse_qs(parts.query)
                for name, values in parse_qs(form.decode()).items():
                    query.setdefault(name, []).extend(values)
                group = fake.group(self.server.server_address[0], path)
                if not fake.admit(group):
                    return self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": "1"})
                status, body, kind = fake._answer(path, query)
                self._send(status, body, kind)

            def _send(self, status, body, kind, headers=None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _answer(self, path, query):
        status, body, kind = super()._answer(path, query)
        if path.startswith("/v2/") and status == 200:
            # Unpaywall's PDF links point at the publishers' hosts, not at the API's.
            for name, k in self.file_host.items():
                old = f"{self.base}/files/{name}".encode()
                if old in body:
                    port = self.publishers[k].server_address[1]
                    body = body.replace(old, f"http://127.0.0.{2 + k}:{port}/files/{name}".encode())
                    break
        return status, body, kind


# --- retrieval ---------------------------------------------------------------------------------


def retrieval_world(fake: LimitedFake, n: int, tag: str):
    """A review with n records at full text, the fakes scripted for them; (membership, plan)."""
    from django.contrib.auth import get_user_model

    from reviewapp.literature.models import Import, Record
    from reviewapp.reviews.models import Membership
    from reviewapp.reviews.services import review_create
    from reviewapp.screening.constants import Stage
    from reviewapp.screening.models import StageSettings
    from reviewapp.screening.services import decision_record

    owner = get_user_model().objects.create_user(f"ft-bench-{tag}")
    review = review_create(title=f"Retrieval bench {tag}", slug=f"ft-bench-{tag}", owner=owner)
    StageSettings.objects.filter(review=review).update(reviewers_required=1)
    me = Membership.objects.get(review=review, user=owner)
    imp = Import.objects.create(review=review, file_name="r.ris", format="ris", status="done")
    plan = collections.Counter()
    rows = []
    for i in range(n):
        kind = ("pmc",) * 5 + ("unpaywall",) * 3 + ("closed", "unknown")
        kind = kind[i % 10]
        pmid = "" if kind == "unknown" else str(40_000_000 + i)
        doi = f"10.5555/{tag}.{i}"
        rows.append(
            Record(
                review=review,
                source_import=imp,
                source_position=i + 1,
                title=f"Record {i} of the retrieval benchmark",
                pmid=pmid,
                doi=doi,
            )
        )
        plan[kind] += 1
        body = pdf_bytes(f"Article {tag} {i}\ndoi: {doi}")
        if kind == "pmc":
            fake.link(pmid, f"PMC{9_000_000 + i}")
            fake.pmc(f"PMC{9_000_000 + i}", "pdf", file=f"{tag}-{i}.pdf")
            fake.file(f"{tag}-{i}.pdf", body)
        elif kind == "unpaywall":
            fake.unpaywall(doi, "pdf", file=f"{tag}-{i}.pdf")
            fake.file(f"{tag}-{i}.pdf", body)
            fake.file_host[f"{tag}-{i}.pdf"] = plan["unpaywall"] % PUBLISHERS
        elif kind == "closed":
            fake.link(pmid, f"PMC{9_000_000 + i}")
            fake.pmc(f"PMC{9_000_000 + i}", "not_oa")
            fake.unpaywall(doi, "closed")
    Record.objects.bulk_create(rows)
    for record in Record.objects.filter(review=review).order_by("pk"):
        decision_record(membership=me, record=record, stage=Stage.TITLE_ABSTRACT, value="include")
    return me, plan


def retrieval_run_timed(me, queue: str, fake: LimitedFake) -> dict:
    from reviewapp.screening.models import Retrieval
    from reviewapp.screening.retrieval import retrieval_request

    fake.reset_counts()
    t0 = time.monotonic()
    run = retrieval_request(membership=me, queue=queue)
    while True:
        time.sleep(0.2)
        run = Retrieval.objects.get(pk=run.pk)
        if run.status in ("done", "failed"):
            break
    wall = time.monotonic() - t0
    assert run.status == "done", run.error
    counts = dict(fake.counts)
    floors = {g: c / fake.rate(g) for g, c in counts.items()}
    slowest = max(floors, key=floors.get)
    publishers = {g: f for g, f in floors.items() if g.startswith("publisher")}
    outcomes = collections.Counter(run.items.values_list("outcome", flat=True))
    return {
        "wall": wall,
        "in_worker": (run.finished_at - run.started_at).total_seconds(),
        "floor": floors[slowest],
        "slowest": slowest,
        "ncbi": counts.get("ncbi", 0),
        "unpaywall": counts.get("unpaywall", 0),
        "publisher_requests": sum(c for g, c in counts.items() if g.startswith("publisher")),
        "publisher_floor": max(publishers.values()) if publishers else 0.0,
        # One record at a time cannot ask NCBI while it waits for Unpaywall, or the reverse;
        # publishers' hosts differ from one record to the next, so they rarely wait.
        "sum_of_floors": floors.get("ncbi", 0) + floors.get("unpaywall", 0),
        "refused": sum(fake.refused.values()),
        "found": run.found,
        "total": run.total,
        "outcomes": dict(outcomes),
    }


# --- bulk matching -----------------------------------------------------------------------------

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "so", "ta", "vi", "be", "du"]
WORDS = {
    "a": ["Natalizumab", "Fingolimod", "Ocrelizumab", "Rituximab", "Cladribine", "Alemtuzumab",
          "Dimethyl fumarate", "Teriflunomide", "Ozanimod", "Siponimod", "Ofatumumab"],
    "b": ["withdrawal", "discontinuation", "switching", "extended dosing", "dose reduction",
          "treatment interruption", "de-escalation", "continuation", "washout"],
    "c": ["relapsing-remitting multiple sclerosis", "progressive multiple sclerosis",
          "paediatric-onset multiple sclerosis", "clinically isolated syndrome",
          "neuromyelitis optica spectrum disorder", "older patients with multiple sclerosis",
          "pregnant women with multiple sclerosis", "JCV-positive patients"],
    "d": ["a randomised controlled trial", "a multicentre cohort study", "a registry study",
          "a retrospective analysis", "a prospective observational study", "a case series",
          "a nationwide cohort", "a pragmatic trial", "an open-label extension"],
    "e": ["rebound activity", "disease reactivation", "MRI outcomes", "disability progression",
          "relapse rates", "safety outcomes", "patient-reported outcomes", "lymphocyte counts"],
}  # fmt: skip
FILLER = (
    "Background. Disease-modifying therapies reduce relapse rates, but what follows their "
    "withdrawal is uncertain. Methods. We followed patients for two years after the last "
    "infusion, recording relapses, gadolinium-enhancing lesions and disability scores. Results. "
    "Relapses returned within six months in a third of patients. Conclusions. Switching early "
    "appears to protect against rebound."
)
KINDS = [
    "doi_meta",
    "doi_text",
    "pmid_text",
    "filename",
    "title",
    "near_duplicate",
    "not_in_review",
]
SHARES = [0.18, 0.16, 0.14, 0.16, 0.16, 0.10, 0.10]


def _title(rng: random.Random) -> str:
    w = {k: rng.choice(v) for k, v in WORDS.items()}
    return f"{w['a']} {w['b']} in {w['c']} and {w['e']}: {w['d']}"


def bulk_plan(n_pdfs: int, seed: int = 18):
    """Records, and PDFs with their known answer (a record index or None) and evidence kind."""
    rng = random.Random(seed)
    counts = [round(n_pdfs * s) for s in SHARES]
    counts[0] += n_pdfs - sum(counts)
    titles: set[str] = set()
    surnames = iter(
        "".join(p).capitalize()
        for p in rng.sample(
            [(a, b, c) for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES], 1000
        )
    )
    records: list[dict] = []

    def new_record(title: str | None = None) -> int:
        while title is None or title in titles:
            title = _title(rng)
        titles.add(title)
        i = len(records)
        records.append(
            {
                "title": title,
                "doi": f"10.6666/ms.{2000 + i}.{rng.randrange(10**6):06d}",
                "pmid": str(31_000_000 + 17 * i),
                "surname": next(surnames),
                "year": 2000 + i % 24,
            }
        )
        return i

    pdfs: list[dict] = []
    for kind, count in zip(KINDS, counts, strict=True):
        for j in range(count):
            body = [FILLER] * 4
            name, meta_subject, answer = f"article-{len(pdfs):04d}.pdf", "", None
            first = "Original article\nMultiple Sclerosis Journal"
            if kind == "near_duplicate":
                if j % 2 == 0:
                    base = None
                    while base is None or base in titles:
                        base = _title(rng)
                    a = new_record(base)
                    b = new_record(base + ". Two-year follow-up")
                    target = a if j % 4 == 0 else b
                else:
                    target = b if j % 4 == 1 else a
                answer = target
                first += "\n" + records[target]["title"]
            elif kind == "not_in_review":
                other = None
                while other is None or other in titles:
                    other = _title(rng)
                titles.add(other)  # no record drawn later may take it
                first += f"\n{other}\nhttps://doi.org/10.7777/elsewhere.{j}\nPMID: {39_000_000 + j}"
            else:
                answer = new_record()
                rec = records[answer]
                if kind == "doi_meta":
                    meta_subject = f"doi:{rec['doi']}"
                elif kind == "doi_text":
                    first += f"\nhttps://doi.org/{rec['doi']}"
                elif kind == "pmid_text":
                    first += f"\nPMID: {rec['pmid']}"
                elif kind == "filename":
                    style = j % 3
                    name = (
                        f"PMID_{rec['pmid']}.pdf",
                        rec["doi"].replace("/", "_") + ".pdf",
                        f"{rec['surname']} {rec['year']}.pdf",
                    )[style]
                elif kind == "title":
                    first += "\n" + rec["title"]
            pdfs.append(
                {
                    "kind": kind,
                    "name": name,
                    "answer": answer,
                    # A line of its own, so no two PDFs are the same file.
                    "content": pdf_bytes(
                        f"{first}\nManuscript no. {len(pdfs) + 1}", *body, subject=meta_subject
                    ),
                }
            )
    # Distractors: records at full text no PDF is for.
    for _ in range(max(50, n_pdfs // 5)):
        new_record()
    rng.shuffle(pdfs)
    return records, pdfs


def pypdf_reference(pdfs: list[dict]) -> float:
    """Bare pypdf on the same files: open, metadata, first two pages' text."""
    from pypdf import PdfReader

    t0 = time.perf_counter()
    for pdf in pdfs:
        reader = PdfReader(io.BytesIO(pdf["content"]), strict=False)
        dict(reader.metadata or {})
        for page in reader.pages[:2]:
            page.extract_text()
    return time.perf_counter() - t0


def matcher_alone(review, pdfs: list[dict]) -> float:
    """The matching rules alone (no PDF reading, no database) on the same files' text."""
    from reviewapp.screening.bulk import bulk_candidates
    from reviewapp.screening.bulk_match import Matcher
    from reviewapp.screening.pdfs import pdf_check

    facts = [pdf_check(p["content"], max_bytes=10**9, read_text=True) for p in pdfs]
    t0 = time.perf_counter()
    matcher = Matcher(bulk_candidates(review))
    for pdf, fact in zip(pdfs, facts, strict=True):
        matcher.match(name=pdf["name"], title=fact.title, text=fact.text)
    return time.perf_counter() - t0


def queue_drained(url: str, queue: str, timeout: float = 600) -> float:
    """Wait until the worker has taken every message of its queue; the seconds waited."""
    import redis

    client = redis.Redis.from_url(url)
    t0 = time.monotonic()
    while client.llen(queue) and time.monotonic() - t0 < timeout:
        time.sleep(0.5)
    return time.monotonic() - t0


def bulk_run(n_pdfs: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from reviewapp.literature.models import Import, Record
    from reviewapp.reviews.models import Membership
    from reviewapp.reviews.services import review_create
    from reviewapp.screening.bulk import bulk_stage
    from reviewapp.screening.constants import Stage
    from reviewapp.screening.models import BulkMatch, StageSettings
    from reviewapp.screening.services import decision_record

    records, pdfs = bulk_plan(n_pdfs)
    owner = get_user_model().objects.create_user("ft-bench-bulk")
    review = review_create(title="Bulk bench", slug="ft-bench-bulk", owner=owner)
    StageSettings.objects.filter(review=review).update(reviewers_required=1)
    me = Membership.objects.get(review=review, user=owner)
    imp = Import.objects.create(review=review, file_name="b.ris", format="ris", status="done")
    Record.objects.bulk_create(
        Record(
            review=review,
            source_import=imp,
            source_position=i + 1,
            title=r["title"],
            doi=r["doi"],
            pmid=r["pmid"],
            authors=[f"{r['surname']}, A"],
            year=r["year"],
        )
        for i, r in enumerate(records)
    )
    ids = list(Record.objects.filter(review=review).order_by("source_position"))
    for record in ids:
        decision_record(membership=me, record=record, stage=Stage.TITLE_ABSTRACT, value="include")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for pdf in pdfs:
            archive.writestr(pdf["name"], pdf["content"])
    data = buffer.getvalue()
    reference = pypdf_reference(pdfs)
    matching = matcher_alone(review, pdfs)

    t0 = time.monotonic()
    batch = bulk_stage(membership=me, uploads=[SimpleUploadedFile("papers.zip", data)])
    request_s = time.monotonic() - t0
    while True:
        job = BulkMatch.objects.get(batch=batch)
        if job.status in ("done", "failed"):
            break
        time.sleep(0.1)
    wall = time.monotonic() - t0
    assert job.status == "done", job.error
    in_worker = (job.finished_at - job.started_at).total_seconds()

    got = {f.name.split("/", 1)[1]: f for f in batch.files.all()}
    per_kind: dict[str, collections.Counter] = {k: collections.Counter() for k in KINDS}
    by_method: collections.Counter = collections.Counter()
    for pdf in pdfs:
        row = got[pdf["name"]]
        expected = ids[pdf["answer"]].pk if pdf["answer"] is not None else None
        c = per_kind[pdf["kind"]]
        c["n"] += 1
        if row.refused:
            c["refused"] += 1
        elif row.record_id is None:
            c["unmatched"] += 1
        elif row.record_id == expected:
            c["right"] += 1
            by_method[(pdf["kind"], row.method)] += 1
        else:
            c["wrong"] += 1
        c["has_answer"] += expected is not None
    return {
        "n": len(pdfs),
        "records": len(records),
        "zip_mb": len(data) / 1048576,
        "pdf_kb": sum(len(p["content"]) for p in pdfs) / len(pdfs) / 1024,
        "request": request_s,
        "in_worker": in_worker,
        "wall": wall,
        "reference": reference,
        "matching": matching,
        "per_kind": per_kind,
        "by_method": by_method,
    }


# --- main --------------------------------------------------------------------------------------


def drop() -> None:
    import psycopg2

    conn = psycopg2.connect(pg_url("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    conn.close()


def start_worker(env: dict, queue: str, log: Path, **extra: str) -> subprocess.Popen:
    from reviewapp.celery import app

    worker = subprocess.Popen(
        [PY, "-m", "celery", "-A", "reviewapp", "worker", "--pool=solo", "-Q", queue,
         "-n", f"{queue}@bench", "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        cwd=ROOT, env={**env, **extra}, stdout=open(log, "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[f"{queue}@bench"], timeout=1.0):
        assert worker.poll() is None and time.monotonic() < deadline, "worker did not start"
    return worker


def stop(worker: subprocess.Popen) -> None:
    try:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(worker.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--pdfs", type=int, default=500)
    parser.add_argument("--no-key", action="store_true", help="NCBI without an API key (3/s)")
    parser.add_argument("--serial-too", action="store_true")
    parser.add_argument("--skip-retrieval", action="store_true")
    parser.add_argument("--skip-bulk", action="store_true")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "fulltext.md"))
    args = parser.parse_args()

    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    media = out_dir / "media-fulltext"
    shutil.rmtree(media, ignore_errors=True)
    ncbi_rate = 3.0 if args.no_key else 10.0
    fake = LimitedFake(ncbi_rate)
    fake.start()
    queue = f"ft-bench-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        **fake.settings,
        "DJANGO_SETTINGS_MODULE": "reviewapp.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_HSTS_SECONDS": "0",
        "MEDIA_ROOT": str(media),
        "REDIS_URL": args.redis_url,
        "DATABASE_URL": pg_url(DB),
        "CELERY_QUEUE": queue,
        "UNPAYWALL_EMAIL": "bench@example.org",
        "ENTREZ_EMAIL": "bench@example.org",
        "ENTREZ_API_KEY": "" if args.no_key else "bench-key-not-real",
    }
    import psycopg2
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    drop()
    conn = psycopg2.connect(pg_url("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{DB}"')
    conn.close()
    subprocess.run(
        [PY, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    os.environ.update(env)
    import django

    django.setup()
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    load = os.getloadavg()
    retrieval: dict[str, dict] = {}
    bulk: dict = {}
    worker = start_worker(env, queue, out_dir / "fulltext-worker.log")
    try:
        if not args.skip_retrieval:
            me, plan = retrieval_world(fake, args.records, "threads")
            retrieval["threads"] = retrieval_run_timed(me, queue, fake)
            print("retrieval", retrieval["threads"], flush=True)
        if not args.skip_bulk:
            # The retrieval queued the text extraction of every PDF it attached (one task each,
            # on the same worker); the bulk upload is timed once they are done.
            drained = queue_drained(args.redis_url, queue)
            print(f"waited {drained:.0f} s for the worker's queue to empty", flush=True)
            bulk = bulk_run(args.pdfs)
            print("bulk", {k: v for k, v in bulk.items() if k != "per_kind"}, flush=True)
        if args.serial_too and not args.skip_retrieval:
            stop(worker)
            worker = start_worker(
                env, queue, out_dir / "fulltext-worker-serial.log", RETRIEVAL_FETCH_THREADS="1"
            )
            me, plan = retrieval_world(fake, args.records, "serial")
            retrieval["serial"] = retrieval_run_timed(me, queue, fake)
            print("retrieval serial", retrieval["serial"], flush=True)
    finally:
        stop(worker)
        fake.stop()
        from django.db import connections

        connections.close_all()
        drop()
        shutil.rmtree(media, ignore_errors=True)

    lines = [
        f"Run {started.isoformat()} on {machine()}; PostgreSQL and Redis on 127.0.0.1; load "
        f"average at the start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min).",
        "",
    ]
    if retrieval:
        key = "without an API key, 3/s" if args.no_key else "with an API key, 10/s"
        lines += [
            f"Retrieval of {args.records:,} records through the worker; fakes limited as the "
            f"real services: NCBI {key}; Unpaywall 10/s; 20 publishers' hosts 2/s each.",
            "",
            "| run | time, request to done | in the worker | rate-limit floor (slowest "
            "service) | ratio | NCBI / Unpaywall / publisher requests | refused 429 | found |",
            "|---|---:|---:|---:|---:|---|---:|---:|",
        ]
        for name, r in retrieval.items():
            label = {
                "threads": "as the app runs it (8 fetching threads)",
                "serial": "one record at a time (RETRIEVAL_FETCH_THREADS=1)",
            }[name]
            lines.append(
                f"| {label} | {r['wall']:.1f} s | {r['in_worker']:.1f} s | {r['floor']:.1f} s "
                f"({r['slowest']}) | **{r['wall'] / r['floor']:.2f}x** | {r['ncbi']} / "
                f"{r['unpaywall']} / {r['publisher_requests']} | {r['refused']} | "
                f"{r['found']} of {r['total']} |"
            )
        r = retrieval["threads"]
        lines += [
            "",
            f"Floors per service in the first run: NCBI {r['ncbi'] / ncbi_rate:.1f} s, Unpaywall "
            f"{r['unpaywall'] / UNPAYWALL_RATE:.1f} s, the busiest publisher "
            f"{r['publisher_floor']:.1f} s; NCBI's and Unpaywall's added, "
            f"{r['sum_of_floors']:.1f} s, is what one record at a time can at best reach.",
            "",
        ]
    if bulk:
        lines += [
            f"Bulk matching of {bulk['n']} PDFs (one zip of {bulk['zip_mb']:.1f} MB, "
            f"{bulk['pdf_kb']:.1f} KB a PDF, 5 pages each) against {bulk['records']} records at "
            "full text, through `bulk_stage` and the worker's BulkMatch job.",
            "",
            "| what | time | PDFs/s | ratio to the reference |",
            "|---|---:|---:|---:|",
            f"| upload to matched (request {bulk['request']:.1f} s + queue + job) | "
            f"{bulk['wall']:.1f} s | {bulk['n'] / bulk['wall']:.0f} | "
            f"**{bulk['wall'] / bulk['reference']:.2f}x** |",
            f"| the job in the worker (check, read, match, store) | {bulk['in_worker']:.1f} s | "
            f"{bulk['n'] / bulk['in_worker']:.0f} | {bulk['in_worker'] / bulk['reference']:.2f}x |",
            f"| reference: bare pypdf, same files (open, metadata, 2 pages' text) | "
            f"{bulk['reference']:.1f} s | {bulk['n'] / bulk['reference']:.0f} | 1 |",
            f"| of the job: the matching rules alone, in-process on the same text | "
            f"{bulk['matching']:.1f} s | {bulk['n'] / bulk['matching']:.0f} | "
            f"{bulk['matching'] / bulk['reference']:.2f}x |",
            "",
            "| planted evidence | PDFs | right | wrong | not matched | precision | recall |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        totals: collections.Counter = collections.Counter()
        for kind in KINDS:
            c = bulk["per_kind"][kind]
            totals.update(c)
            made = c["right"] + c["wrong"]
            precision = f"{c['right'] / made:.1%}" if made else "n/a"
            recall = f"{c['right'] / c['has_answer']:.1%}" if c["has_answer"] else "n/a"
            lines.append(
                f"| {kind.replace('_', ' ')} | {c['n']} | {c['right']} | {c['wrong']} | "
                f"{c['unmatched']} | {precision} | {recall} |"
            )
        made = totals["right"] + totals["wrong"]
        lines.append(
            f"| **all** | {totals['n']} | {totals['right']} | {totals['wrong']} | "
            f"{totals['unmatched']} | {totals['right'] / made:.1%} | "
            f"{totals['right'] / totals['has_answer']:.1%} |"
        )
        methods = ", ".join(
            f"{kind} by {method or 'none'} {n}"
            for (kind, method), n in sorted(bulk["by_method"].items())
        )
        lines += ["", f"Right matches by the rule that made them: {methods}.", ""]
    text = "\n".join(lines)
    Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
