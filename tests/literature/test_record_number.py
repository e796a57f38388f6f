"""Record.number: 1..N within each review, in the order records came in, on every insert path."""

from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviewapp.literature.bulk import BulkWriter
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Record
from reviewapp.literature.services import import_create, import_run
from tests.conftest import membership_of
from tests.factories import ImportFactory, RecordFactory, review_make

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _import(review, owner, name="ris/scopus.ris"):
    path = FIXTURES / name
    with path.open("rb") as fileobj:
        imp = import_create(
            membership=membership_of(owner, review), fileobj=fileobj, file_name=path.name
        )
    imp = import_run(import_id=imp.pk)
    assert imp.status == JobStatus.DONE, imp.error
    return imp


def _numbers(review):
    return list(
        Record.objects.filter(review=review).order_by("id").values_list("number", flat=True)
    )


def test_imports_number_their_records_after_those_already_there_in_file_order(review, owner):
    RecordFactory.create_batch(2, review=review)  # through the ORM, one at a time
    first = _import(review, owner)
    second = _import(review, owner, "ris/embase.ris")
    numbers = _numbers(review)
    assert numbers == list(range(1, len(numbers) + 1))
    rows = Record.objects.filter(source_import=second).order_by("source_position")
    assert [r.number for r in rows] == list(
        range(first.count_imported + 3, first.count_imported + 3 + second.count_imported)
    )
    # Another review counts from 1 on its own.
    other = review_make(owner=owner, slug="other")
    _import(other, owner)
    assert _numbers(other)[0] == 1


def test_an_import_asks_the_database_for_the_top_number_once_not_per_record(review, owner):
    RecordFactory.create_batch(3, review=review)
    with CaptureQueriesContext(connection) as captured:
        _import(review, owner)
    queries = [q["sql"] for q in captured.captured_queries if "MAX(" in q["sql"].upper()]
    assert len(queries) <= 1, queries


def test_bulk_create_and_the_copy_writer_number_what_they_write(review):
    imp = ImportFactory(review=review)
    Record.objects.bulk_create(
        [Record(review=review, source_import=imp, title=f"t{i}") for i in range(3)]
    )
    with BulkWriter() as writer:
        writer.save_new(Record, [Record(review=review, source_import=imp, title="copied")])
    assert _numbers(review) == [1, 2, 3, 4]


def test_a_number_is_unique_within_its_review(review):
    record = RecordFactory(review=review)
    with pytest.raises(IntegrityError), transaction.atomic():
        RecordFactory(review=review, number=record.number)
    RecordFactory(review=review_make(slug="elsewhere"), number=record.number)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's transactional DDL")
def test_the_migration_numbers_existing_records_by_review_in_id_order(owner):
    import importlib

    backfill = importlib.import_module(
        "reviewapp.literature.migrations.0007_record_number"
    ).BACKFILL
    a, b = review_make(owner=owner, slug="a"), review_make(owner=owner, slug="b")
    made = [RecordFactory(review=r) for r in (a, b, a, a, b)]
    with connection.cursor() as cursor:
        # Rolled back with the test: the column as it was before the migration filled it.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending
        cursor.execute("ALTER TABLE literature_record ALTER number DROP NOT NULL")
        cursor.execute("UPDATE literature_record SET number = NULL")
        cursor.execute(backfill)
    got = {r.pk: r.number for r in Record.objects.filter(pk__in=[m.pk for m in made])}
    assert [got[m.pk] for m in made] == [1, 1, 2, 3, 2]


def test_the_list_and_the_record_show_the_number_and_find_by_it(client, owner, review):
    RecordFactory.create_batch(3, review=review)
    target = RecordFactory(review=review, title="Washout after natalizumab", pmid="31000001")
    client.force_login(owner)
    url = reverse("literature:record-list", args=[review.slug])
    for query in ("#4", "4", "no. 4"):
        html = client.get(url, {"q": query}).content.decode()
        assert "Washout after natalizumab" in html, query
        assert html.count("<tr>") == 2, query  # the header and the one record
    html = client.get(url, {"q": "31000001"}).content.decode()
    assert "Washout after natalizumab" in html
    detail = client.get(reverse("literature:record-detail", args=[review.slug, target.pk]))
    assert "Record #4 of this review" in detail.content.decode()


def test_the_api_gives_the_number(owner, review):
    from rest_framework.test import APIClient

    RecordFactory.create_batch(2, review=review)
    api = APIClient()
    api.force_authenticate(owner)
    rows = api.get(reverse("api:record-list", args=[review.slug])).json()["results"]
    assert [r["number"] for r in rows] == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_two_transactions_adding_records_to_one_review_never_take_the_same_number(review):
    # Records made one by one (the API, the admin, a factory) take the review's lock for adding
    # records as imports do: the second transaction waits for the first to commit, then numbers
    # after it. Without the lock both read the same max() and the second fails on the unique
    # number, losing its record.
    import threading

    from django.db import connections

    RecordFactory(review=review)  # number 1
    first_saved = threading.Event()
    release_first = threading.Event()
    second_done = threading.Event()
    outcome: dict[str, object] = {}

    def first():
        try:
            with transaction.atomic():
                outcome["first"] = RecordFactory(review=review).number
                first_saved.set()
                release_first.wait(timeout=30)
        finally:
            connections.close_all()

    def second():
        try:
            first_saved.wait(timeout=30)
            with transaction.atomic():
                outcome["second"] = RecordFactory(review=review).number
        except Exception as exc:  # noqa: BLE001 - the failure is what the test reports
            outcome["second"] = exc
        finally:
            second_done.set()
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert first_saved.wait(timeout=30)
    # The second is now waiting for the review's lock, not done: it cannot number yet.
    assert not second_done.wait(timeout=1.0)
    release_first.set()
    for thread in threads:
        thread.join(timeout=30)
    assert outcome == {"first": 2, "second": 3}
    assert sorted(Record.objects.filter(review=review).values_list("number", flat=True)) == [
        1,
        2,
        3,
    ]
