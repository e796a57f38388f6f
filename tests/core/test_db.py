"""Bulk writes leave fresh planner statistics: tables_analyze runs ANALYZE after the commit."""

import time

import pytest
from django.db import connection, transaction

from reviewapp.core.db import tables_analyze
from reviewapp.literature.models import Record
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import RecordStageState, RecordVote
from reviewapp.screening.state import stage_states_rebuild
from tests.factories import RecordFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): ANALYZE and pg_stat_user_tables are PostgreSQL's",
    ),
]


def table_stats(model) -> tuple:
    """(last_analyze, n_mod_since_analyze) of the model's table, read afresh."""
    with connection.cursor() as cursor:
        # The statistics views keep a snapshot per transaction; a new read needs a new snapshot.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT last_analyze, n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = %s",
            [model._meta.db_table],
        )
        return cursor.fetchone()


def analysed_since(model, before, *, timeout: float = 10.0) -> tuple:
    """Wait until the table was analysed after `before` (the statistics collector reports with a
    delay of up to a second), then return its (last_analyze, n_mod_since_analyze)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = table_stats(model)
        if (stats[0] is not None and (before is None or stats[0] > before)) or (
            time.monotonic() > deadline
        ):
            return stats
        time.sleep(0.1)


def test_analyze_waits_for_the_commit_and_leaves_nothing_unanalysed(review):
    before, _ = table_stats(Record)
    with transaction.atomic():
        RecordFactory.create_batch(30, review=review)
        tables_analyze(Record)
        # Not yet: inside the transaction its own rows would stay counted as unanalysed.
        assert table_stats(Record)[0] == before
    last, modified = analysed_since(Record, before)
    assert last is not None and (before is None or last > before)
    assert modified == 0


def test_a_rebuild_of_the_screening_state_leaves_its_tables_analysed(review):
    RecordFactory.create_batch(20, review=review)
    before = {model: table_stats(model)[0] for model in (RecordStageState, RecordVote)}
    stage_states_rebuild(review, Stage.TITLE_ABSTRACT)
    for model, was in before.items():
        last, modified = analysed_since(model, was)
        assert last is not None and (was is None or last > was), model
        assert modified == 0, model


def test_excluding_thousands_of_records_by_a_stopping_rule_leaves_its_tables_analysed(
    review, owner
):
    import uuid

    from reviewapp.core.db import ANALYZE_AFTER_ROWS
    from reviewapp.screening.models import Decision
    from reviewapp.screening.services import decisions_automation_exclude
    from tests.conftest import membership_of
    from tests.factories import ImportFactory

    imp = ImportFactory(review=review)
    records = Record.objects.bulk_create(
        Record(review=review, source_import=imp, source_position=i + 1, title=f"Study {i}")
        for i in range(ANALYZE_AFTER_ROWS)
    )
    before = {model: table_stats(model)[0] for model in (Decision, RecordStageState)}
    excluded = decisions_automation_exclude(
        membership=membership_of(owner, review),
        stage=Stage.TITLE_ABSTRACT,
        record_ids=[r.pk for r in records],
        details={"rule": {"id": 0}},
        token_for=lambda record_id: uuid.uuid5(uuid.NAMESPACE_URL, f"test:{record_id}"),
    )
    assert excluded == ANALYZE_AFTER_ROWS
    for model, was in before.items():
        last, modified = analysed_since(model, was)
        assert last is not None and (was is None or last > was), model
        assert modified == 0, model
