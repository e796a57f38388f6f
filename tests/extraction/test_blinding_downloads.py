"""Downloads apply the one blinding rule: no vote or entry shows to a member whose own is due."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from tests.blinding import (
    DECISION_NOTE,
    ENTRY_MARK,
    REASON,
    SCREENERS_WHO_ADJUDICATE,
    extract,
    shows_ritas_vote,
    vote,
)

VOTE_DOWNLOADS = ["decisions-long", "records-wide"]
ENTRY_DOWNLOADS = ["extraction-csv", "extraction-xlsx", "extraction-json"]


def _text(client, user, review, **data) -> str:
    """The downloaded file as text (an XLSX as its cells' values)."""
    client.force_login(user)
    response = client.post(reverse("extraction:download", args=[review.slug]), data)
    assert response.status_code == 200, response
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if data["kind"].endswith("xlsx"):
        workbook = openpyxl.load_workbook(io.BytesIO(body))
        return "\n".join(
            str(value)
            for sheet in workbook
            for row in sheet.iter_rows(values_only=True)
            for value in row
        )
    return body.decode("utf-8")


def _ritas_row(text: str, kind: str) -> dict:
    rows = list(csv.DictReader(io.StringIO(text)))
    if kind == "decisions-long":
        (row,) = [r for r in rows if r["reviewer"] == "rita"]
        return {"value": row["value"], "reasons": row["reasons"], "note": row["note"]}
    (row,) = rows
    return {"value": row["ta_vote_rita"], "reasons": row["ta_reasons"]}


@pytest.mark.parametrize("kind", VOTE_DOWNLOADS)
@pytest.mark.parametrize("role", SCREENERS_WHO_ADJUDICATE)
def test_an_owner_admin_or_adjudicator_whose_vote_is_due_downloads_no_trace_of_the_first(
    client, request, review, ritas_vote, role, kind
):
    text = _text(client, request.getfixturevalue(role), review, kind=kind)
    rows = list(csv.DictReader(io.StringIO(text)))
    # records-wide still lists the record, without its vote; decisions-long has nothing to list.
    assert [r["record_id"] for r in rows] == (
        [str(ritas_vote.pk)] if kind == "records-wide" else []
    )
    assert not shows_ritas_vote(text)


@pytest.mark.parametrize("kind", VOTE_DOWNLOADS)
@pytest.mark.parametrize("role", SCREENERS_WHO_ADJUDICATE)
def test_an_owner_admin_or_adjudicator_downloads_the_first_vote_once_theirs_is_in(
    client, request, review, ritas_vote, role, kind
):
    user = request.getfixturevalue(role)
    vote(user, review, ritas_vote)
    row = _ritas_row(_text(client, user, review, kind=kind), kind)
    assert row["value"] == "exclude" and row["reasons"] == REASON
    assert row.get("note", DECISION_NOTE) == DECISION_NOTE


@pytest.mark.parametrize("kind", VOTE_DOWNLOADS)
def test_an_analyst_downloads_a_vote_still_awaiting_the_second(
    client, review, analyst, ritas_vote, kind
):
    row = _ritas_row(_text(client, analyst, review, kind=kind), kind)
    assert row["value"] == "exclude" and row["reasons"] == REASON


@pytest.mark.parametrize("kind", ENTRY_DOWNLOADS)
def test_an_admin_who_is_the_second_extractor_downloads_the_first_entry_only_once_theirs_is_in(
    client, review, review_admin, dual_form, study, ritas_entry, kind
):
    draft = extract(review_admin, review, dual_form, study, submit=False)
    before = _text(client, review_admin, review, kind=kind, form=dual_form.pk, which="all")
    assert "adam's entry" in before and ENTRY_MARK not in before
    extract(review_admin, review, dual_form, study, submit=True, revision=draft.revision)
    after = _text(client, review_admin, review, kind=kind, form=dual_form.pk, which="all")
    assert "adam's entry" in after and ENTRY_MARK in after


@pytest.mark.parametrize("kind", ENTRY_DOWNLOADS)
def test_an_analyst_downloads_both_entries_while_the_second_is_a_draft(
    client, review, review_admin, analyst, dual_form, study, ritas_entry, kind
):
    extract(review_admin, review, dual_form, study, submit=False)
    text = _text(client, analyst, review, kind=kind, form=dual_form.pk, which="all")
    assert "adam's entry" in text and ENTRY_MARK in text
