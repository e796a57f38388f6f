"""Large exports stream: rows go out as they are read from the database, a chunk at a time,
never built whole in memory (the page's download and the file the worker writes alike)."""

import csv
import io

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviewapp.extraction import selectors
from reviewapp.extraction.services import export_write_file
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.factories import RecordFactory

ROWS = 60
CHUNK = 10


@pytest.fixture
def screened(review, reviewer, reviewer2, monkeypatch):
    """60 records, each with two conflicting votes, one excluding with a reason; chunks of 10."""
    monkeypatch.setattr(selectors, "CHUNK", CHUNK)
    review.stage_settings.filter(stage="ta").update(reviewers_required=2)
    reason = review.exclusion_reasons.first()
    # Long titles, so that a file's text buffer is written out several times over the export.
    records = [
        RecordFactory(review=review, title=f"Record {i} " + "natalizumab " * 60)
        for i in range(ROWS)
    ]
    for record in records:
        for user, value in ((reviewer, "include"), (reviewer2, "exclude")):
            decision_record(
                membership=membership_of(user, review),
                record=record,
                stage="ta",
                value=value,
                reason_ids=[reason.pk] if value == "exclude" else None,
            )
    return records


def _reason_queries(queries) -> int:
    return sum("screening_decision_reasons" in q["sql"] for q in queries.captured_queries)


def test_the_download_is_streamed_and_its_first_rows_come_before_the_rest_is_read(
    client, analyst, review, screened
):
    client.force_login(analyst)
    response = client.post(
        reverse("extraction:download", args=[review.slug]), {"kind": "records-wide"}
    )
    assert isinstance(response, StreamingHttpResponse)
    lines = iter(response.streaming_content)
    with CaptureQueriesContext(connection) as queries:
        header, first = next(lines), next(lines)
        read_for_the_first_row = _reason_queries(queries)
        rest = list(lines)
    # The first row needed the first chunk of decisions only; the others came as it went on.
    assert read_for_the_first_row == 1
    assert _reason_queries(queries) >= ROWS * 2 // CHUNK
    rows = list(csv.DictReader(io.StringIO(b"".join([header, first, *rest]).decode())))
    assert [r["record_id"] for r in rows] == [str(r.pk) for r in screened]
    assert {(r["ta_vote_rita"], r["ta_vote_ravi"], r["ta_reasons"]) for r in rows} == {
        ("include", "exclude", review.exclusion_reasons.first().label)
    }


class WriteLog(io.RawIOBase):
    """A binary file that notes, at each write, how many queries the export had run by then."""

    def __init__(self, queries):
        self.queries, self.data, self.at = queries, io.BytesIO(), []

    def writable(self):
        return True

    def write(self, b):
        self.at.append(_reason_queries(self.queries))
        return self.data.write(b)


@pytest.mark.parametrize("kind", ["records-wide", "decisions-long"])
def test_the_worker_writes_the_file_as_it_reads_the_rows(analyst, review, screened, kind):
    with CaptureQueriesContext(connection) as queries:
        out = WriteLog(queries)
        n = export_write_file(out, membership=membership_of(analyst, review), kind=kind)
    assert n == (ROWS if kind == "records-wide" else 2 * ROWS)
    # Bytes reached the file long before the last chunk of decisions was read.
    assert len(out.at) > 3 and out.at[0] < _reason_queries(queries) / 2
    text = out.data.getvalue().decode()
    assert len(list(csv.DictReader(io.StringIO(text)))) == n
