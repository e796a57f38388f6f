"""A large import runs as a Celery task in a real worker process against PostgreSQL."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviewapp.core.db import ANALYZE_AFTER_ROWS
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Import, Record
from reviewapp.literature.services import import_create
from reviewapp.literature.tasks import import_run_task
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import RecordStageState
from tests.conftest import membership_of
from tests.core.test_db import analysed_since, table_stats

BASELINE = Path(__file__).resolve().parents[1] / "fixtures" / "ris" / "_baseline.ris"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_an_import_runs_in_the_worker_and_its_records_land_in_the_database(
    celery_worker,
    review,
    owner,
):
    queue, _hostname = celery_worker
    with BASELINE.open("rb") as fileobj:
        imp = import_create(
            membership=membership_of(owner, review), fileobj=fileobj, file_name=BASELINE.name
        )
    import_run_task.apply_async(args=[imp.pk], queue=queue).get(timeout=120)
    imp.refresh_from_db()
    assert imp.status == JobStatus.DONE, imp.error
    assert imp.count_imported == Record.objects.filter(source_import=imp).count() > 0
    # Sending the same task again (a broker redelivery) claims nothing and adds nothing.
    import_run_task.apply_async(args=[imp.pk], queue=queue).get(timeout=120)
    assert Record.objects.filter(source_import=imp).count() == imp.count_imported
    assert Import.objects.get(pk=imp.pk).status == JobStatus.DONE


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_after_an_import_in_the_worker_the_screening_rows_exist_and_statistics_are_fresh(
    celery_worker, review, owner
):
    queue, _hostname = celery_worker
    tables = (Record, RecordStageState)
    before = {model: table_stats(model)[0] for model in tables}
    # A bulk import: past the size from which the import analyses what it wrote.
    text = "".join(
        f"PMID- {1000 + i}\nDP  - 2018\nTI  - Study number {i} of a bulk import\n"
        f"AU  - Author{i} A\n\n"
        for i in range(ANALYZE_AFTER_ROWS)
    )
    imp = import_create(
        membership=membership_of(owner, review),
        fileobj=SimpleUploadedFile("bulk.txt", text.encode()),
        file_name="bulk.txt",
    )
    import_run_task.apply_async(args=[imp.pk], queue=queue).get(timeout=120)
    imp.refresh_from_db()
    assert imp.status == JobStatus.DONE, imp.error
    # Before any screening request: the worker built every record's title/abstract row.
    assert (
        RecordStageState.objects.filter(
            review=review, stage=Stage.TITLE_ABSTRACT, record__source_import=imp
        ).count()
        == imp.count_imported
        > 0
    )
    # And analysed the tables it wrote, after its commit: nothing is left unanalysed.
    for model, was in before.items():
        last, modified = analysed_since(model, was)
        assert last is not None and (was is None or last > was), model
        assert modified == 0, model
