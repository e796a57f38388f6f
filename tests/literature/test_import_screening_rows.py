"""Imports build their records' screening rows, so no reviewer's request has to (issue 13)."""

from pathlib import Path

from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Record
from reviewapp.literature.services import import_create, import_run
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import NewRecords, RecordStageState
from reviewapp.screening.queue import queue_next
from tests.conftest import membership_of
from tests.factories import RecordFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _import(review, user, name: str):
    path = FIXTURES / name
    with path.open("rb") as fileobj:
        imp = import_create(
            membership=membership_of(user, review), fileobj=fileobj, file_name=path.name
        )
    return import_run(import_id=imp.pk)


def _rows_missing(review) -> int:
    return (
        Record.objects.filter(review=review)
        .exclude(stage_states__stage=Stage.TITLE_ABSTRACT)
        .count()
    )


def test_every_imported_record_has_its_screening_row_when_the_import_ends(review, owner):
    imp = _import(review, owner, "ris/_baseline.ris")
    assert imp.status == JobStatus.DONE, imp.error
    assert imp.count_imported > 50
    assert (
        RecordStageState.objects.filter(
            review=review, stage=Stage.TITLE_ABSTRACT, record__source_import=imp
        ).count()
        == imp.count_imported
    )
    # The trigger's notes of the new records went with the import: nothing left to build.
    assert not NewRecords.objects.filter(review=review).exists()


def test_the_first_screening_request_after_an_import_writes_no_screening_rows(
    review, owner, reviewer
):
    _import(review, owner, "ris/_baseline.ris")
    rows_before = RecordStageState.objects.filter(review=review).count()
    with CaptureQueriesContext(connection) as queries:
        picked = queue_next(review, Stage.TITLE_ABSTRACT, reviewer)
    assert len(picked) == 2
    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT")]
    assert inserts == []
    assert RecordStageState.objects.filter(review=review).count() == rows_before


def test_records_added_before_an_import_without_their_rows_get_them_from_it(review, owner):
    # A path that leaves rows to the queue (here: the factory) added records the mark is below.
    RecordFactory.create_batch(3, review=review)
    assert _rows_missing(review) == 3
    _import(review, owner, "ris/_baseline.ris")
    assert _rows_missing(review) == 0


def test_a_second_import_adds_only_its_own_rows(review, owner):
    first = _import(review, owner, "ris/_baseline.ris")
    second = _import(review, owner, "ris/embase.ris")
    assert second.status == JobStatus.DONE, second.error
    assert _rows_missing(review) == 0
    assert (
        RecordStageState.objects.filter(review=review, stage=Stage.TITLE_ABSTRACT).count()
        == first.count_imported + second.count_imported
    )
