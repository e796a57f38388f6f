"""A worker SIGKILLed in the middle of a job, then started again: no job stays "running".

Each test drives a real Celery worker process (Redis broker, the test PostgreSQL database) that it
starts, kills with SIGKILL (its whole process group, as the OOM killer or `docker kill` would) and
starts again. The worker runs with short timings so a fault plays out in seconds: a heartbeat
every second, a job "stale" after 3 silent seconds, the broker handing an unacknowledged message
back after 4 seconds, two attempts per job, and a pause at each step of a job so the kill lands
mid-job deterministically (JOBS_TEST_STEP_DELAY_MS).

Paths covered: an import and a training come back through the broker's redelivery of the acks-late
message (no beat needed); an export through the recovery task (core.jobs_recover, sent by name
as beat would); a search killed on both of its attempts ends failed with a message, and the user's
"run it again" finishes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from reviewapp.core.jobs import job_enqueue
from reviewapp.extraction.models import ExportJob
from reviewapp.extraction.services import export_request
from reviewapp.literature.models import Import, Record, Search
from reviewapp.literature.searches import search_create, search_retry
from reviewapp.literature.services import import_create
from reviewapp.screening.constants import RankingStatus
from reviewapp.screening.models import Ranking
from reviewapp.screening.ranking_service import ranking_request
from reviewapp.screening.services import decision_record
from tests.celery_worker import ROOT, _database_url, services_missing_reason
from tests.conftest import membership_of
from tests.factories import RecordFactory
from tests.fake_eutils import running_fake_eutils, spread

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

STALE_AFTER = 3
WORKER_ENV = {
    "JOBS_HEARTBEAT_SECONDS": "1",
    "JOBS_STALE_AFTER_SECONDS": str(STALE_AFTER),
    "JOBS_MAX_ATTEMPTS": "2",
    "CELERY_VISIBILITY_TIMEOUT": "4",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "JOBS_TEST_STEP_DELAY_MS": "1500",
}


class Worker:
    """A worker process of our own, on a queue of our own, that a test may kill and restart."""

    def __init__(self, media_root, extra_env: dict[str, str]):
        self.queue = f"faults-{uuid.uuid4().hex[:10]}"
        self.env = {
            **os.environ,
            **WORKER_ENV,
            **extra_env,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "MEDIA_ROOT": str(media_root),
            "CELERY_QUEUE": self.queue,
        }
        self.log = (media_root / f"{self.queue}.log").open("ab")
        self.process: subprocess.Popen | None = None
        self.hostname = ""
        self.starts = 0

    def start(self) -> None:
        from reviewapp.celery import app

        self.starts += 1
        self.hostname = f"{self.queue}-{self.starts}@testhost"
        self.process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "celery", "-A", "reviewapp", "worker"),
                *("--pool=prefork", "--concurrency=1", "--loglevel=WARNING"),
                *("-Q", self.queue, "-n", self.hostname),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            # Its own process group, so a SIGKILL reaches the pool's child as well.
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the worker exited as it started"
            if app.control.ping(destination=[self.hostname], timeout=0.5):
                return
        raise AssertionError("the worker did not answer a ping within 60 seconds")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def kill_pool_process(self) -> None:
        """SIGKILL only the pool's child (as the OOM killer would): the worker itself lives on."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        (child,) = [int(pid) for pid in children.split()]
        os.kill(child, signal.SIGKILL)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()

    def call(self, task_name: str, timeout: float = 30):
        """Send a task by name, as beat does, and wait for the worker's answer."""
        from reviewapp.celery import app

        return app.send_task(task_name, queue=self.queue).get(timeout=timeout)


@pytest.fixture(scope="module")
def eutils():
    with running_fake_eutils() as fake:
        yield fake


@pytest.fixture(scope="module")
def module_worker(django_db_setup, django_db_blocker, media_root, eutils):
    """One worker for the module, started once; each test kills and restarts it."""
    reason = services_missing_reason()
    if reason:
        pytest.skip(reason)
    with django_db_blocker.unblock():
        w = Worker(media_root, {"ENTREZ_BASE_URL": eutils.base_url})
    w.start()
    yield w
    w.stop()
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(w.queue, f"_kombu.binding.{w.queue}", f"_kombu.binding_permanent.{w.queue}")
    client.close()


@pytest.fixture
def worker(module_worker, settings):
    # job_enqueue sends to the default queue: make it the worker's.
    settings.CELERY_TASK_DEFAULT_QUEUE = module_worker.queue
    if module_worker.process is None or module_worker.process.poll() is not None:
        module_worker.start()
    return module_worker


def wait_for(what: str, condition, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def row(model, pk: int) -> dict:
    return model.objects.filter(pk=pk).values(
        "status", "attempts", "heartbeat_at", "error", "note"
    )[0]


def wait_until_stale(model, pk: int) -> None:
    """Until the killed attempt's heartbeat is older than the worker's JOBS_STALE_AFTER."""
    beat = row(model, pk)["heartbeat_at"]
    assert beat is not None
    wait_for(
        "the heartbeat to go stale",
        lambda: time.time() - beat.timestamp() > STALE_AFTER + 0.5,
        timeout=STALE_AFTER + 5,
    )


def wait_finished(model, pk: int, timeout: float = 90) -> dict:
    return wait_for(
        f"{model.__name__} {pk} to finish",
        lambda: (r := row(model, pk))["status"] in ("done", "failed") and r,
        timeout=timeout,
    )


def ris_file(n: int) -> bytes:
    lines = []
    for i in range(n):
        lines += [
            "TY  - JOUR",
            f"TI  - Natalizumab rebound after withdrawal, cohort {i}",
            f"AU  - Author{i}, A",
            "PY  - 2015",
            f"DO  - 10.1000/fault.{i}",
            "ER  - ",
            "",
        ]
    return "\n".join(lines).encode()


def test_an_import_killed_mid_write_is_redelivered_and_lands_once(worker, review, owner):
    w = worker
    upload = ContentFile(ris_file(2500), name="big.ris")
    imp = import_create(
        membership=membership_of(owner, review), fileobj=upload, file_name="big.ris"
    )
    cache.delete(f"progress:import:{imp.pk}")
    job_enqueue(imp)
    # The first of three batches is written (inside the import's open transaction): kill now.
    wait_for("the first batch", lambda: (cache.get(f"progress:import:{imp.pk}") or {}).get("done"))
    w.kill()
    assert row(Import, imp.pk)["status"] == "running"
    # The killed attempt's rows died with its transaction.
    assert not Record.objects.filter(source_import=imp).exists()

    w.start()  # the broker hands the unacknowledged message back; the new attempt takes the job
    finished = wait_finished(Import, imp.pk)

    assert finished["status"] == "done", finished["error"]
    assert finished["attempts"] == 2
    imp.refresh_from_db()
    assert imp.count_imported == 2500
    assert Record.objects.filter(source_import=imp).count() == 2500
    assert Record.objects.filter(source_import=imp).values("doi").distinct().count() == 2500


def test_a_search_killed_on_every_attempt_fails_cleanly_and_runs_again(
    worker, review, owner, eutils
):
    eutils.script_search("natalizumab", spread(1200, date(2010, 1, 1), date(2012, 12, 31)))
    w = worker
    membership = membership_of(owner, review)
    search = search_create(membership=membership, query="natalizumab")
    job_enqueue(search)
    for attempt in (1, 2):
        fetched = len(eutils.requests_to("efetch"))
        wait_for(
            f"attempt {attempt} to fetch a batch",
            lambda: (
                row(Search, search.pk)["attempts"] == attempt  # noqa: B023
                and len(eutils.requests_to("efetch")) > fetched  # noqa: B023
            ),
        )
        w.kill()
        assert row(Search, search.pk)["status"] == "running"
        assert not Record.objects.filter(search=search).exists()
        w.start()

    # The redelivery after the second kill finds the attempts used up: failed, with the reason.
    failed = wait_finished(Search, search.pk)
    assert failed["status"] == "failed"
    assert "stopped 2 times" in failed["error"] and "run again" in failed["error"]
    assert not Record.objects.filter(search=search).exists()

    search_retry(membership=membership, search=Search.objects.get(pk=search.pk))
    job_enqueue(search)
    done = wait_finished(Search, search.pk)
    assert done["status"] == "done", done["error"]
    assert done["attempts"] == 1
    assert Record.objects.filter(search=search).count() == 1200
    assert Search.objects.get(pk=search.pk).count_new == 1200
    # Replies stored by the killed attempts were cleared: only the finished run's three remain.
    _dirs, replies = default_storage.listdir(f"searches/{search.pk}")
    assert sorted(replies) == [f"part1-batch{n}.xml" for n in (1, 2, 3)]


def test_an_export_whose_worker_died_is_requeued_by_the_recovery_task(
    worker, review, owner, reviewer
):
    membership = membership_of(reviewer, review)
    for record in RecordFactory.create_batch(5, review=review):
        decision_record(membership=membership, record=record, stage="ta", value="include")
    w = worker
    # Asked for by the reviewer: the owner, whose own votes are still due on these blinded dual
    # records, may not see the reviewer's (reviewapp/core/blinding.py) and would get no rows.
    job = export_request(membership=membership, kind="decisions-long")
    wait_for("the export to start", lambda: row(ExportJob, job.pk)["status"] == "running")
    w.kill()
    # The unacknowledged message is gone (as if the broker lost it); recovery must not need it.
    from reviewapp.celery import app

    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        client.delete("unacked", "unacked_index", w.queue)

    w.start()
    wait_until_stale(ExportJob, job.pk)
    counts = w.call("core.jobs_recover")
    assert counts["requeued"] == 1 and counts["sent"] == 1
    finished = wait_finished(ExportJob, job.pk)
    assert finished["status"] == "done", finished["error"]
    assert finished["attempts"] == 2
    job.refresh_from_db()
    assert job.rows_written == 5 and job.file


def test_a_training_killed_mid_run_is_redelivered_and_finishes(worker, review, owner):
    RecordFactory.create_batch(6, review=review)
    w = worker
    ranking = ranking_request(review=review, stage="ta", requested_by=owner)
    job_enqueue(ranking)
    wait_for("the training to start", lambda: row(Ranking, ranking.pk)["status"] == "running")
    w.kill()
    assert row(Ranking, ranking.pk)["status"] == RankingStatus.RUNNING

    w.start()
    finished = wait_finished(Ranking, ranking.pk)
    assert finished["status"] == RankingStatus.DONE, finished["error"]
    assert finished["attempts"] == 2
    assert Ranking.objects.get(pk=ranking.pk).n_records == 6


def test_a_training_whose_pool_process_is_killed_is_handed_back_at_once_and_taken_back(
    worker, review, owner
):
    RecordFactory.create_batch(4, review=review)
    w = worker
    ranking = ranking_request(review=review, stage="ta", requested_by=owner)
    job_enqueue(ranking)
    wait_for("the training to start", lambda: row(Ranking, ranking.pk)["status"] == "running")
    # The worker rejects the lost task's message back to the queue (REJECT_ON_WORKER_LOST); the
    # new pool process finds the heartbeat still fresh and looks again once it can have gone stale.
    w.kill_pool_process()
    finished = wait_finished(Ranking, ranking.pk)
    assert finished["status"] == RankingStatus.DONE, finished["error"]
    assert finished["attempts"] == 2
