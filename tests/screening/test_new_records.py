"""Every record added to a review gets its screening state row, whichever way it was added and in
whatever order imports commit (issue 13: the check for new records no longer reads the records)."""

import threading

import pytest
from django.db import connection, connections, transaction

from reviewapp.literature.models import Record
from reviewapp.screening.models import NewRecords, RecordStageState
from reviewapp.screening.queue import queue_next
from reviewapp.screening.selectors import stage_settings_get
from reviewapp.screening.state import stage_states_rebuild, state_rows_sync
from tests.factories import ImportFactory, RecordFactory


def _rows(review) -> set[int]:
    return set(
        RecordStageState.objects.filter(review=review, stage="ta").values_list(
            "record_id", flat=True
        )
    )


def _ids(review) -> set[int]:
    return set(Record.objects.filter(review=review).values_list("id", flat=True))


def test_records_added_by_any_insert_are_noted_and_get_their_rows_at_the_next_record(
    review, reviewer
):
    RecordFactory.create_batch(3, review=review)
    imported = ImportFactory(review=review)
    with connection.cursor() as cursor:  # as an import's bulk write does, bypassing the ORM
        cursor.execute(
            "INSERT INTO literature_record (review_id, source_import_id, pmid, doi, pmcid, title,"
            " title_key, abstract, abstract_sections, authors, journal, volume, issue, pages,"
            " keywords, mesh_terms, publication_types, language, raw, created_at, number)"
            " VALUES (%s, %s, '', '', '', 'Added by SQL', '', '', '[]', '[]', '', '', '', '',"
            " '[]', '[]', '[]', '', '{}', CURRENT_TIMESTAMP, 4)",
            [review.pk, imported.pk],
        )
    assert stage_settings_get(review, "ta").records_pending
    assert _rows(review) == set()

    queue_next(review, "ta", reviewer, settings=stage_settings_get(review, "ta"))

    assert _rows(review) == _ids(review) and len(_ids(review)) == 4
    assert not NewRecords.objects.filter(review=review).exists()
    assert not stage_settings_get(review, "ta").records_pending
    assert state_rows_sync(review) == 0


def test_records_committed_after_later_ones_were_synced_still_get_their_rows(review, reviewer):
    # An import reserves its ids before a second import does (as BulkWriter reserves them from
    # the sequence), but the second one commits and is synced first; the first one's records
    # then land below every id the queue has seen, which a high-water mark of ids would miss.
    base = (Record.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1000
    imported = ImportFactory(review=review)
    later = RecordFactory.build_batch(5, review=review, source_import=imported)
    early = RecordFactory.build_batch(5, review=review, source_import=imported)
    for i, record in enumerate(later):
        record.pk = base + 10 + i
    for i, record in enumerate(early):
        record.pk = base + i
    Record.objects.bulk_create(later)
    queue_next(review, "ta", reviewer)
    assert _rows(review) == _ids(review)

    Record.objects.bulk_create(early)
    queue_next(review, "ta", reviewer)

    assert _rows(review) == _ids(review) and len(_ids(review)) == 10


def test_rebuilding_the_states_takes_only_the_notes_of_records_it_has_seen(review):
    RecordFactory.create_batch(3, review=review)

    stage_states_rebuild(review)
    assert _rows(review) == _ids(review)
    assert not NewRecords.objects.filter(review=review).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): SQLite has one writer at a time, nothing to skip",
)
def test_a_request_does_not_wait_for_new_records_another_one_is_building(review, reviewer):
    RecordFactory.create_batch(4, review=review)
    holding, release = threading.Event(), threading.Event()

    def builder():
        try:
            with transaction.atomic():
                list(NewRecords.objects.select_for_update().filter(review=review))
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=builder)
    thread.start()
    assert holding.wait(10)
    try:
        assert state_rows_sync(review) == 0  # skipped, not waited for
    finally:
        release.set()
        thread.join(10)
    assert state_rows_sync(review) == 4
    assert _rows(review) == _ids(review)
