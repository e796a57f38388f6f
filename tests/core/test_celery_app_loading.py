"""The Celery app is created when Django starts (CoreConfig.ready), not when any reviewapp module
is imported: pure modules such as the `pool` command line stay free of Django and Celery, and
every task still binds to our app, in this process and in a real worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

import reviewapp
from reviewapp.core.tasks import worker_heartbeat

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_statistics_command_line_loads_neither_django_nor_celery():
    code = (
        "import sys, reviewapp.synthesis.stats.cli; "
        "print(sorted({'django', 'celery', 'reviewapp.celery'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout == "[]\n"


def test_tasks_bind_to_our_app_once_django_has_started():
    from reviewapp.celery import app

    assert reviewapp.celery_app is app
    assert worker_heartbeat.app is app
    # Configured from Django's settings, not Celery's defaults (amqp://, no time limit).
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert app.tasks[worker_heartbeat.name] is worker_heartbeat._get_current_object()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_registers_every_task_of_ours(celery_worker):
    from reviewapp.celery import app

    queue, hostname = celery_worker
    app.loader.import_default_modules()  # autodiscovery, as the worker does at start
    ours = {name for name in app.tasks if not name.startswith("celery.")}
    assert len(ours) > 5
    registered = app.control.inspect(destination=[hostname], timeout=10).registered()
    assert set(registered[hostname]) >= ours
