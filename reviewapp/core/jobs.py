"""Background jobs that survive their worker: sending, claiming, heartbeats and recovery.

A job is a row (an Import, a Search, an ExportJob, a Ranking) with a status the page shows and the
fields of `reviewapp.core.models.JobRun`. Its life:

- `job_enqueue` sends the job's task once the row is committed. If the broker cannot be reached
  the row stays queued with a note saying so, and the request that asked for it still succeeds;
  `jobs_recover` sends it later.
- The task calls `job_claim`, which takes a queued job, or a running one whose heartbeat stopped
  (its worker died), writing a fresh claim token and counting an attempt. A delivery that finds
  the job finished, or running under a live heartbeat, does nothing: tasks are acks-late, so the
  broker hands the message of a killed worker to the next one, and duplicates must be harmless.
- While the job works, `JobClaim.heartbeat()` refreshes heartbeat_at from a thread of its own (the
  job's own writes sit in one long transaction nobody else can see until it commits).
- The job's last write goes through `JobClaim.finish`, conditional on the claim token: an attempt
  that was given up for dead and replaced can no longer commit anything.
- `jobs_recover` (Celery beat, every minute) puts back in the queue the running jobs whose heartbeat
  stopped, fails them once they have used up JOBS_MAX_ATTEMPTS, and sends the queued jobs whose
  message never reached the broker (or was lost with it).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import connections, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# The statuses every job model shares (literature.JobStatus, screening.RankingStatus).
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
# A queued row younger than this may still be on its way to the broker from the request.
SEND_GRACE = timedelta(seconds=30)
BROKER_DOWN = "Waiting: the task queue could not be reached"


@dataclass(frozen=True)
class JobKind:
    """One kind of background job: its model, its task and how the page names it."""

    model_label: str
    task_path: str
    noun: str
    again: str

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    @property
    def task(self):
        return import_string(self.task_path)


KINDS = (
    JobKind(
        "literature.Import",
        "reviewapp.literature.tasks.import_run_task",
        "import",
        "It can be run again.",
    ),
    JobKind(
        "literature.Search",
        "reviewapp.literature.tasks.search_run_task",
        "search",
        "It can be run again.",
    ),
    JobKind(
        "extraction.ExportJob",
        "reviewapp.extraction.tasks.export_run_task",
        "export",
        "It can be run again.",
    ),
    JobKind(
        "synthesis.AnalysisRun",
        "reviewapp.synthesis.tasks.analysis_run_task",
        "computation",
        "It can be run again.",
    ),
    JobKind(
        "screening.Retrieval",
        "reviewapp.screening.tasks.retrieval_run_task",
        "retrieval",
        "It can be run again.",
    ),
    JobKind(
        "screening.BulkMatch",
        "reviewapp.screening.tasks.bulk_match_run_task",
        "matching",
        "Upload the files again.",
    ),
    JobKind(
        "screening.Ranking",
        "reviewapp.screening.tasks.ranking_train_task",
        "training",
        "The queue keeps the previous ranking; retrain to try again.",
    ),
)


def kind_of(model: type[models.Model]) -> JobKind:
    for kind in KINDS:
        if kind.model_label == model._meta.label:
            return kind
    raise LookupError(f"{model._meta.label} is not a background job model")


class JobLost(Exception):
    """This attempt's claim was taken over (its heartbeat was given up for dead)."""


def _stale_after() -> timedelta:
    return timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS)


def stale_running(now: datetime) -> Q:
    """Running jobs whose worker has given no sign of life for JOBS_STALE_AFTER_SECONDS."""
    before = now - _stale_after()
    return Q(status=RUNNING) & (
        Q(heartbeat_at__lt=before)
        | Q(heartbeat_at__isnull=True, started_at__lt=before)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True)
    )


def _clock(moment: datetime | None) -> str:
    return f"{moment:%H:%M} UTC" if moment else "an unknown time"


# --- sending ----------------------------------------------------------------------------------


def job_enqueue(job: models.Model, *, queue: str | None = None) -> None:
    """Send the job's task once the current transaction commits (at once outside one).

    Every place that queues background work calls this. A broker that cannot be reached leaves
    the job queued with a note, and jobs_recover sends it later: the caller never sees an error.
    """
    model, pk = type(job), job.pk
    transaction.on_commit(lambda: job_send(model, pk, queue=queue))


def job_send(model: type[models.Model], pk: int, *, queue: str | None = None) -> bool:
    """Hand the job's task to the broker now; False (and a note on the row) if it is down."""
    from reviewapp.celery import app

    kind = kind_of(model)
    queue = queue or settings.CELERY_TASK_DEFAULT_QUEUE
    if app.conf.task_always_eager:
        # In-process (no broker): the task runs here and now, its errors are the caller's.
        model._default_manager.filter(pk=pk, status=QUEUED).update(sent_at=timezone.now())
        kind.task.apply_async((pk,), queue=queue)
        return True
    try:
        kind.task.apply_async((pk,), queue=queue, retry=True, retry_policy={"max_retries": 1})
    except (OperationalError, RedisError, OSError) as exc:
        logger.warning("could not send %s %s to the broker: %s", kind.noun, pk, exc)
        model._default_manager.filter(pk=pk, status=QUEUED).update(
            sent_at=None,
            note=f"{BROKER_DOWN} at {_clock(timezone.now())}. The {kind.noun} stays queued and "
            "is sent again automatically once it is back.",
        )
        return False
    queued = model._default_manager.filter(pk=pk, status=QUEUED)
    queued.update(sent_at=timezone.now())
    queued.filter(note__startswith=BROKER_DOWN).update(note="")
    return True


# --- claiming and running ---------------------------------------------------------------------


class JobClaim:
    """One attempt's hold on a job, from `job_claim`."""

    def __init__(self, model: type[models.Model], pk: int, token: str, attempt: int):
        self.model, self.pk, self.token, self.attempt = model, pk, token, attempt

    def _ours(self):
        return self.model._default_manager.filter(
            pk=self.pk, claim_token=self.token, status=RUNNING
        )

    def finish(self, **fields) -> None:
        """Write the job's outcome (status and counts) if this attempt still holds it.

        Raises JobLost otherwise; inside the job's transaction that rolls back its work, so an
        attempt given up for dead can never add to what its successor writes.
        """
        if not self._ours().update(**fields):
            raise JobLost(f"{self.model._meta.label} {self.pk}: claim {self.token} was taken over")

    def step(self) -> None:
        """Called between a job's batches. Pauses only in fault tests (JOBS_TEST_STEP_DELAY_MS)."""
        if settings.JOBS_TEST_STEP_DELAY_MS:
            time.sleep(settings.JOBS_TEST_STEP_DELAY_MS / 1000)

    @contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Refresh heartbeat_at every JOBS_HEARTBEAT_SECONDS while the block runs.

        From a thread with its own database connection: the job's own transaction would keep the
        beat invisible until the end. The thread dies with the process, which is the point.
        """
        from reviewapp.celery import app

        if app.conf.task_always_eager:
            # No worker to lose: the job runs inside the request or command that asked for it.
            yield
            return
        stop = threading.Event()
        thread = threading.Thread(
            target=self._beat, args=(stop,), name=f"heartbeat-{self.pk}", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)

    def _beat(self, stop: threading.Event) -> None:
        try:
            while not stop.wait(settings.JOBS_HEARTBEAT_SECONDS):
                try:
                    if not self._ours().update(heartbeat_at=timezone.now()):
                        return  # finished, or taken over: nothing left to keep alive
                except Exception:  # noqa: BLE001 - a lost beat must not kill the job
                    logger.warning("heartbeat of %s %s failed", self.model, self.pk, exc_info=True)
        finally:
            connections.close_all()


def job_claim(model: type[models.Model], pk: int) -> JobClaim | None:
    """Take the job for this attempt: queued, or running with a heartbeat that stopped.

    None when there is nothing to do here: the job is finished, another attempt is alive, or
    the job has used up its attempts (it is then failed with a message the page shows).
    """
    now = timezone.now()
    token = uuid.uuid4().hex
    manager = model._default_manager
    claimable = Q(status=QUEUED) | stale_running(now)
    claimed = manager.filter(claimable, pk=pk, attempts__lt=settings.JOBS_MAX_ATTEMPTS).update(
        status=RUNNING,
        claim_token=token,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        error="",
        note="",
    )
    if not claimed:
        _give_up(model, manager.filter(pk=pk), now)
        return None
    attempt = manager.filter(pk=pk).values_list("attempts", flat=True).get()
    return JobClaim(model, pk, token, attempt)


# How many times a delivery that found another attempt alive looks again before leaving the job to
# that attempt (and to jobs_recover, should it die later).
BUSY_CHECKS = 3


def task_check_again_if_busy(task, job: models.Model) -> None:
    """Called by a task after its service returned `job` without running it.

    If the job is still running under another attempt, that attempt may be a worker that has just
    died: a pool child killed by the OOM killer has its message handed back at once, before its
    heartbeat can go stale. So the task looks again once it could have, a few times.
    """
    if task.app.conf.task_always_eager or getattr(job, "status", None) != RUNNING:
        return
    if task.request.retries >= BUSY_CHECKS:
        return
    raise task.retry(
        countdown=settings.JOBS_STALE_AFTER_SECONDS + settings.JOBS_HEARTBEAT_SECONDS,
        max_retries=BUSY_CHECKS,
    )


def _give_up(model: type[models.Model], jobs, now: datetime) -> int:
    """Fail the stale running jobs among `jobs` that have had all their attempts."""
    kind = kind_of(model)
    failed = 0
    exhausted = jobs.filter(stale_running(now), attempts__gte=settings.JOBS_MAX_ATTEMPTS)
    for pk, attempts, beat in exhausted.values_list("pk", "attempts", "heartbeat_at"):
        failed += model._default_manager.filter(
            stale_running(now), pk=pk, attempts__gte=settings.JOBS_MAX_ATTEMPTS
        ).update(
            status=FAILED,
            claim_token="",
            finished_at=now,
            note="",
            error=f"The worker running this {kind.noun} stopped {attempts} times before "
            f"it finished (last sign of life at {_clock(beat)}), so it was given up and "
            f"nothing of it was kept. {kind.again}",
        )
    return failed


def job_requeue(model: type[models.Model], *, pk: int) -> bool:
    """Put a failed job back in the queue as new (the user's "run it again"); False if not failed.

    Resets its attempts. The caller sends it with job_enqueue.
    """
    return bool(
        model._default_manager.filter(pk=pk, status=FAILED).update(
            status=QUEUED,
            attempts=0,
            claim_token="",
            error="",
            note="",
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
            sent_at=None,
        )
    )


# --- recovery ---------------------------------------------------------------------------------


def jobs_recover(*, now: datetime | None = None) -> dict[str, int]:
    """Leave nothing "running" or "queued" forever; run by Celery beat every minute.

    - Running jobs whose heartbeat stopped: failed once they have had JOBS_MAX_ATTEMPTS, otherwise
      put back in the queue (their claim revoked) and sent again.
    - Queued jobs whose message never reached the broker: sent.
    - Queued jobs sent long ago (6 x JOBS_STALE_AFTER) and never started: sent again, for a
      broker that lost its messages. A duplicate is harmless: only one delivery can claim.
    Returns how many jobs each case touched.
    """
    now = now or timezone.now()
    counts = {"failed": 0, "requeued": 0, "sent": 0, "unsent": 0}
    for kind in KINDS:
        model = kind.model
        manager = model._default_manager
        counts["failed"] += _give_up(model, manager.all(), now)
        stale = manager.filter(stale_running(now), attempts__lt=settings.JOBS_MAX_ATTEMPTS)
        for pk, attempts, beat in stale.values_list("pk", "attempts", "heartbeat_at"):
            requeued = manager.filter(stale_running(now), pk=pk, attempts=attempts).update(
                status=QUEUED,
                claim_token="",
                sent_at=None,
                note=f"The worker running this {kind.noun} stopped at {_clock(beat)}; it "
                f"was put back in the queue (attempt {attempts + 1} of "
                f"{settings.JOBS_MAX_ATTEMPTS}).",
            )
            if requeued:
                logger.warning("%s %s: worker lost, requeued", kind.noun, pk)
                counts["requeued"] += 1
                counts["sent" if job_send(model, pk) else "unsent"] += 1
        lost_before = now - 6 * _stale_after()
        unsent = manager.filter(status=QUEUED).filter(
            Q(sent_at__isnull=True, created_at__lt=now - SEND_GRACE) | Q(sent_at__lt=lost_before)
        )
        for pk in unsent.values_list("pk", flat=True):
            counts["sent" if job_send(model, pk) else "unsent"] += 1
    return counts
