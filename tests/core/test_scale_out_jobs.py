"""Two Celery workers on one queue, as on two machines, against one PostgreSQL and one Redis:
every background job runs exactly once (issue 13, item 8).

Each worker is a process of its own (prefork, one pool child) with its own node name, both
consuming the same queue, so either may be handed any message. Every kind of job the app sends
through `reviewapp.core.jobs.job_enqueue` (imports, PubMed searches against the fake E-utilities
server, exports, trainings) is queued many at once, each sent twice (a double click, or the same
job sent again by a second web instance), and each job's effects are counted once all messages
are consumed: one set of records per import and per search, one esearch and one round of efetch
per search, one file per export, one stored order per training, attempts == 1. A worker killed
mid-import leaves its job to the other, which takes it back once and lands it once.

Timings are short so a fault plays out in seconds (as in tests/core/test_job_faults.py): a
heartbeat every second, a job stale after 3 silent seconds, the broker handing an unacknowledged
message back after 4, and a short pause at each step of a job so both workers are busy at once.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections

from reviewapp.core.jobs import KINDS, job_enqueue, jobs_recover
from reviewapp.extraction.services import export_request
from reviewapp.literature.models import DuplicateLink, Import, Record
from reviewapp.literature.searches import BATCH_SIZE as SEARCH_BATCH
from reviewapp.literature.searches import search_create
from reviewapp.literature.services import import_create
from reviewapp.screening import bulk as bulk_module
from reviewapp.screening.bulk import bulk_stage
from reviewapp.screening.constants import RankingStatus
from reviewapp.screening.models import BulkMatch, Ranking, Retrieval
from reviewapp.screening.ranking_service import ranking_request
from reviewapp.screening.services import decision_record
from tests.celery_worker import ROOT, _database_url, services_missing_reason
from tests.conftest import membership_of
from tests.factories import MembershipFactory, RecordFactory, UserFactory, review_make
from tests.fake_eutils import running_fake_eutils, spread
from tests.pdf_builder import pdf_bytes

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

STALE_AFTER = 3
WORKER_ENV = {
    "JOBS_HEARTBEAT_SECONDS": "1",
    "JOBS_STALE_AFTER_SECONDS": str(STALE_AFTER),
    "JOBS_MAX_ATTEMPTS": "2",
    "CELERY_VISIBILITY_TIMEOUT": "4",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    # Long enough that a job is still running when its duplicate message reaches the other
    # worker, and that a kill after the first batch of an import lands before it commits.
    "JOBS_TEST_STEP_DELAY_MS": "300",
}


class Worker:
    """One Celery worker process ("one machine") on the shared queue; a test may SIGKILL it."""

    def __init__(self, name: str, queue: str, media_root: Path, extra_env: dict[str, str]):
        self.name, self.queue = name, queue
        self.hostname = f"{queue}-{name}@machine-{name}"
        self.log_path = media_root / f"worker-{name}.log"
        self.env = {
            **os.environ,
            **WORKER_ENV,
            **extra_env,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "MEDIA_ROOT": str(media_root),
            "CELERY_QUEUE": queue,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "celery", "-A", "reviewapp", "worker"),
                    *("--pool=prefork", "--concurrency=1", "--loglevel=INFO"),
                    *("-Q", self.queue, "-n", self.hostname),
                    *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: a SIGKILL reaches the pool's child too, as when a
                # machine or its container dies.
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        from reviewapp.celery import app

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log()
            if app.control.ping(destination=[self.hostname], timeout=0.5):
                return
        raise AssertionError(f"worker {self.name} did not answer a ping:\n{self.log()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ran(self, task_name: str) -> int:
        """How many deliveries of `task_name` this worker finished (its INFO log says so)."""
        return sum(
            1
            for line in self.log().splitlines()
            if f"Task {task_name}[" in line and "succeeded" in line
        )

    def pause(self) -> None:
        """Stop taking messages from the queue (the worker stays up)."""
        from reviewapp.celery import app

        app.control.cancel_consumer(self.queue, destination=[self.hostname], reply=True)

    def resume(self) -> None:
        from reviewapp.celery import app

        app.control.add_consumer(self.queue, destination=[self.hostname], reply=True)


@pytest.fixture(scope="module")
def eutils():
    with running_fake_eutils() as fake:
        yield fake


@pytest.fixture(scope="module")
def machines(django_db_setup, django_db_blocker, tmp_path_factory, eutils):
    """Two workers on one queue, started together; yields {"a": Worker, "b": Worker}."""
    reason = services_missing_reason()
    if reason:
        pytest.skip(reason)
    media_root = tmp_path_factory.mktemp("scale-out-media")
    queue = f"scale-out-{uuid.uuid4().hex[:10]}"
    with django_db_blocker.unblock():
        pair = {
            name: Worker(name, queue, media_root, {"ENTREZ_BASE_URL": eutils.base_url})
            for name in ("a", "b")
        }
    for worker in pair.values():
        worker.start()
    try:
        for worker in pair.values():
            worker.wait_ready()
        yield pair
    finally:
        for worker in pair.values():
            worker.stop()
        client = redis.Redis.from_url(settings.REDIS_URL)
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.close()


@pytest.fixture
def workers(machines, settings):
    # job_enqueue sends to the default queue: make it the shared one. The test process writes
    # uploads where the workers read them.
    any_worker = next(iter(machines.values()))
    settings.CELERY_TASK_DEFAULT_QUEUE = any_worker.queue
    settings.MEDIA_ROOT = any_worker.env["MEDIA_ROOT"]
    for worker in machines.values():
        if not worker.alive():
            worker.start()
            worker.wait_ready()
    return machines


def wait_for(what: str, condition, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def messages_left(queue: str) -> int:
    """Messages of `queue` still waiting or held (unacknowledged) by a worker: a duplicate that
    found its job busy is held for a second look (task_check_again_if_busy) until it runs."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        waiting = client.llen(queue)
        held = sum(
            1
            for payload in client.hvals("unacked")
            if json.loads(payload)[2] == queue  # [message, exchange, routing key]
        )
    finally:
        client.close()
    return waiting + held


def ris_file(n: int, tag: str) -> bytes:
    lines = []
    for i in range(n):
        lines += [
            "TY  - JOUR",
            f"TI  - Natalizumab withdrawal and rebound, {tag} cohort {i}",
            f"AU  - Author{i}, {tag.upper()}",
            "PY  - 2015",
            f"DO  - 10.1000/{tag}.{i}",
            "ER  - ",
            "",
        ]
    return "\n".join(lines).encode()


def _import(owner, review, content: bytes, name: str) -> Import:
    return import_create(
        membership=membership_of(owner, review),
        fileobj=ContentFile(content, name=name),
        file_name=name,
    )


def _analysis_runs(owner) -> list:
    """Computations of large analyses by the worker (a kind of job since issue 13, item 7), on
    reviews of their own, where this checkout has them."""
    if "synthesis.AnalysisRun" not in {kind.model_label for kind in KINDS}:
        return []
    from reviewapp.synthesis.models import AnalysisRun
    from tests.synthesis.test_analysis_page import create, extract_trials

    runs = []
    for k in (6, 9):
        pooled = review_make(owner=owner, slug=f"pooled-{k}")
        extract_trials(pooled, owner, k)
        runs.append(AnalysisRun.objects.create(analysis=create(pooled, owner), requested_by=owner))
    return runs


def test_every_kind_of_job_sent_twice_across_two_workers_runs_exactly_once(
    workers, review, owner, reviewer, eutils, monkeypatch
):
    monkeypatch.setattr(bulk_module, "INLINE_MAX_FILES", 0)  # every upload matched by the worker
    # A second review, so two trainings of one stage can be queued at once (one per stage and
    # review is the rule) and imports run into two reviews side by side.
    other = review_make(owner=owner, slug="second-review")
    MembershipFactory(review=other, user=UserFactory(username="sam"))

    # Imports: distinct files, and one file uploaded twice (two members, or one twice).
    distinct = {f"file{i}": 300 + 150 * i for i in range(4)}
    imports = [
        _import(owner, review, ris_file(n, tag), f"{tag}.ris") for tag, n in distinct.items()
    ]
    imports += [_import(owner, other, ris_file(400, "other"), "other.ris")]
    same = [_import(owner, review, ris_file(500, "twice"), f"twice-{k}.ris") for k in (1, 2)]

    # Searches: PubMed terms with hits in several fetch batches.
    hits = {"natalizumab rebound": 1100, "natalizumab withdrawal": 700, "pml": 240}
    for term, n in hits.items():
        eutils.script_search(term, spread(n, date(2011, 1, 1), date(2013, 12, 31)))
    searches = [search_create(membership=membership_of(owner, review), query=t) for t in hits]

    # Exports: the reviewer's decisions, a few times (each request is a job of its own).
    for record in RecordFactory.create_batch(8, review=review):
        decision_record(
            membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
        )
    exports = [
        export_request(membership=membership_of(reviewer, review), kind="decisions-long")
        for _ in range(3)
    ]
    # Trainings: one per review (one at a time per stage is the rule), on reviews of their own
    # so the imports under way do not change what they train on.
    trained = [review_make(owner=owner, slug=f"trained-{n}") for n in (8, 5)]
    for r, n in zip(trained, (8, 5), strict=True):
        RecordFactory.create_batch(n, review=r)
    rankings = [ranking_request(review=r, stage="ta", requested_by=owner) for r in trained]

    analysis_runs = _analysis_runs(owner)
    # Full-text retrievals: on reviews with nothing at full text, so they ask no server; what is
    # tested here is that a run sent twice runs once, not what it fetches (tests/screening).
    retrievals = [Retrieval.objects.create(review=r, requested_by=owner) for r in trained]
    # Bulk matchings: a PDF each, stored for the job (no record at full text: left unmatched).
    matchings = [
        BulkMatch.objects.get(
            batch=bulk_stage(
                membership=membership_of(owner, r),
                uploads=[SimpleUploadedFile("p.pdf", pdf_bytes(f"Paper {r.slug}"))],
            )
        )
        for r in trained
    ]

    jobs = [
        *imports,
        *same,
        *searches,
        *exports,
        *rankings,
        *analysis_runs,
        *retrievals,
        *matchings,
    ]
    assert {kind.model_label for kind in KINDS} == {type(job)._meta.label for job in jobs}, (
        "a kind of background job is not covered here"
    )
    # export_request sent its job once on commit (no transaction here: at once); every job is
    # now sent (again) twice: a double click, and the same job queued by the other web instance.
    for job in jobs:
        job_enqueue(job)
        job_enqueue(job)

    queue = workers["a"].queue
    for job in jobs:
        wait_for(
            f"{job._meta.label} {job.pk} to finish",
            lambda job=job: type(job).objects.get(pk=job.pk).status in ("done", "failed"),
            timeout=60,
        )
    # Every message consumed, the second looks of the duplicates included.
    wait_for("every message to be consumed", lambda: messages_left(queue) == 0, timeout=30)

    for job in jobs:
        job.refresh_from_db()
        assert (job.status, job.attempts) == ("done", 1), (job, job.error)

    # Imports: one set of records each; the file sent twice gives records once and its second
    # copy linked as duplicates of the first, whichever worker ran which.
    for imp, n in zip(imports, [*distinct.values(), 400], strict=True):
        assert imp.count_imported == n
        assert Record.objects.filter(source_import=imp).count() == n
        assert Record.objects.filter(source_import=imp).values("doi").distinct().count() == n
    first, second = sorted(same, key=lambda imp: imp.finished_at)
    assert Record.objects.filter(source_import__in=same).count() == 1000
    assert first.count_duplicates == 0
    assert second.count_duplicates == 500
    assert (
        DuplicateLink.objects.filter(
            duplicate__source_import=second, primary__source_import=first, undone_at__isnull=True
        ).count()
        == 500
    )

    # Searches: their records once, and PubMed asked once: one esearch per term, one round of
    # efetch batches per search.
    for search, (term, n) in zip(searches, hits.items(), strict=True):
        assert search.count_new == n
        assert Record.objects.filter(search=search).count() == n
        assert sum(1 for r in eutils.requests_to("esearch") if r.params["term"] == term) == 1
    assert len(eutils.requests_to("efetch")) == sum(
        math.ceil(n / SEARCH_BATCH) for n in hits.values()
    )

    # Exports: one file each, and no stray file from a second run.
    export_dir = Path(settings.MEDIA_ROOT) / "exports" / f"review-{review.pk}"
    assert sorted(p.name for p in export_dir.iterdir()) == sorted(
        Path(job.file.name).name for job in exports
    )
    for job in exports:
        assert job.rows_written == 8
        assert len((Path(settings.MEDIA_ROOT) / job.file.name).read_text().splitlines()) == 9

    # Trainings: one stored order each, and no second training queued behind them.
    for ranking, n in zip(rankings, [8, 5], strict=True):
        assert ranking.status == RankingStatus.DONE and ranking.n_records == n
    assert Ranking.objects.filter(review__in=trained).count() == 2

    # Analyses: one result each, from the one computation.
    for run, k in zip(analysis_runs, (6, 9), strict=True):
        assert run.analysis.results.count() == 1
        assert run.result.studies_count == k

    # Retrievals: each reported its (empty) set of records once.
    for retrieval in retrievals:
        assert retrieval.items.count() == 0 and retrieval.total == 0

    # Bulk matchings: each file read once, left unmatched with the reason, nothing pending.
    for matching in matchings:
        (row,) = matching.batch.files.all()
        assert not row.pending and row.record_id is None and row.evidence

    # Both machines did work: the jobs really were spread.
    ran = {
        name: w.ran("literature.import_run") + w.ran("literature.search_run")
        for name, w in workers.items()
    }
    assert all(ran.values()), ran


def test_a_worker_killed_mid_import_leaves_the_job_to_the_other_which_lands_it_once(
    workers, review, owner
):
    a, b = workers["a"], workers["b"]
    # Machine b takes nothing for now, so the import goes to machine a.
    b.pause()
    imp = _import(owner, review, ris_file(3500, "killed"), "killed.ris")
    cache.delete(f"progress:import:{imp.pk}")
    job_enqueue(imp)
    wait_for("the first batch", lambda: (cache.get(f"progress:import:{imp.pk}") or {}).get("done"))
    b.resume()
    a.kill()  # machine a dies mid-import, its message unacknowledged
    killed = Import.objects.get(pk=imp.pk)
    assert (killed.status, killed.attempts) == ("running", 1)
    assert not Record.objects.filter(source_import=imp).exists()

    # Once a's heartbeat is stale, recovery may run on several machines at once (two beats
    # by mistake, or beat's task and the broker's redelivery racing): it takes the job back once.
    wait_for(
        "a's heartbeat to go stale",
        lambda: (
            time.time() - Import.objects.get(pk=imp.pk).heartbeat_at.timestamp() > STALE_AFTER + 0.5
        ),
        timeout=STALE_AFTER + 10,
    )
    counts: list[dict] = []

    def recover():
        try:
            counts.append(jobs_recover())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=recover) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(c["requeued"] for c in counts) <= 1, counts

    done = wait_for(
        "the import to finish on b",
        lambda: (i := Import.objects.get(pk=imp.pk)).status in ("done", "failed") and i,
        timeout=60,
    )
    wait_for("every message to be consumed", lambda: messages_left(a.queue) == 0, timeout=30)
    done.refresh_from_db()
    assert (done.status, done.attempts) == ("done", 2), done.error
    assert done.count_imported == 3500
    assert Record.objects.filter(source_import=imp).count() == 3500
    assert Record.objects.filter(source_import=imp).values("doi").distinct().count() == 3500
    assert b.ran("literature.import_run") >= 1
    # Nothing is left for a later recovery to take back.
    assert jobs_recover()["requeued"] == 0
    assert Import.objects.get(pk=imp.pk).attempts == 2
