"""The COPY writer behind imports: same rows as bulk_create, errors surface, nothing after a failure.

COPY is PostgreSQL's; on SQLite `BulkWriter.save_new` is `bulk_create` and these tests are skipped.
Run them with DATABASE_URL pointing at PostgreSQL.
"""

from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction

from reviewapp.literature.bulk import BulkWriter
from reviewapp.literature.copyrows import RECORD_CONTENT_COLUMNS
from reviewapp.literature.models import DuplicateLink, Import, Record
from reviewapp.literature.parsers import ParsedRecord, parse
from reviewapp.literature.services import _record_from, import_create, import_run
from tests.conftest import membership_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="COPY is used on PostgreSQL only"
)

FIELDS = ["source_position", *RECORD_CONTENT_COLUMNS]


def _parsed(name: str) -> list[ParsedRecord]:
    with (FIXTURES / name).open("rb") as fileobj:
        return [item for item in parse(fileobj, filename=name) if isinstance(item, ParsedRecord)]


@pytest.mark.parametrize("name", ["entrez/pubmed5.xml", "ris/scopus.ris", "csv/embase.csv"])
def test_copy_stores_what_bulk_create_stores(review, name):
    imp = Import.objects.create(review=review, file_name=name)
    parsed = _parsed(name)
    copied = [_record_from(p, review=review, source_import=imp) for p in parsed]
    with BulkWriter() as writer:
        writer.save_new(Record, copied)
    created = Record.objects.bulk_create(
        [_record_from(p, review=review, source_import=imp) for p in parsed]
    )
    for a, b in zip(copied, created, strict=True):
        stored_a = Record.objects.values(*FIELDS).get(pk=a.pk)
        stored_b = Record.objects.values(*FIELDS).get(pk=b.pk)
        assert stored_a == stored_b


@pytest.mark.parametrize(
    "name", ["entrez/pubmed5.xml", "entrez/pubmed1.xml", "ris/scopus.ris", "csv/embase.csv"]
)
def test_the_model_free_copy_of_an_import_stores_what_the_orm_stores(review, name):
    from reviewapp.literature.matching import DuplicateIndex
    from reviewapp.literature.services import records_add_parsed
    from reviewapp.screening.models import RecordStageState

    imp = Import.objects.create(review=review, file_name=name)
    parsed = _parsed(name)
    ids, _links = records_add_parsed(
        review=review, parsed=parsed, index=DuplicateIndex(), source_import=imp
    )
    created = Record.objects.bulk_create(
        [_record_from(p, review=review, source_import=imp) for p in parsed]
    )
    assert len(ids) == len(created) == len(parsed) > 0
    for rid, b in zip(ids, created, strict=True):
        stored_a = Record.objects.values(*FIELDS, "review_id", "source_import_id").get(pk=rid)
        stored_b = Record.objects.values(*FIELDS, "review_id", "source_import_id").get(pk=b.pk)
        assert stored_a == stored_b
    states = RecordStageState.objects.filter(record_id__in=ids)
    assert sorted(states.values_list("record_id", flat=True)) == ids
    assert set(states.values_list("review_id", "stage", "state", "n_votes")) == {
        (review.pk, "ta", "unscreened", 0)
    }


def test_ids_are_set_before_the_rows_are_written_and_links_point_at_them(review):
    imp = Import.objects.create(review=review, file_name="x.ris")
    first, second = (
        _record_from(p, review=review, source_import=imp) for p in _parsed("ris/scopus.ris")[:2]
    )
    with BulkWriter() as writer:
        writer.save_new(Record, [first, second])
        assert first.pk and second.pk and first.pk < second.pk
        link = DuplicateLink(review=review, duplicate_id=second.pk, primary_id=first.pk, rule="doi")
        writer.save_new(DuplicateLink, [link])
    stored = DuplicateLink.objects.get(review=review)
    assert (stored.duplicate_id, stored.primary_id, stored.status) == (
        second.pk,
        first.pk,
        "automatic",
    )
    assert stored.created_at is not None


def test_a_row_the_database_refuses_raises_when_the_writer_closes(review):
    imp = Import.objects.create(review=review, file_name="x.ris")
    record = _record_from(_parsed("ris/scopus.ris")[0], review=review, source_import=imp)
    record.year = 3000  # outside the check constraint record_year_plausible
    with pytest.raises(IntegrityError), transaction.atomic(), BulkWriter() as writer:
        writer.save_new(Record, [record])
    assert not Record.objects.exists()


def test_an_import_that_fails_half_way_leaves_no_record_behind(review, owner):
    path = FIXTURES / "malformed" / "pubmed_truncated.xml"
    with path.open("rb") as fileobj:
        imp = import_create(
            membership=membership_of(owner, review), fileobj=fileobj, file_name=path.name
        )
    imp = import_run(import_id=imp.pk)
    assert imp.status == "failed"
    assert not Record.objects.filter(source_import=imp).exists()
