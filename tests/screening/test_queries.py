"""Query counts of the two requests every screener makes per record (issue 4: 20 at once).

The queue is a few hand-written statements and the page a fixed set of small queries, whatever
the review's size; these counts catch a query added per record, or an N+1, before the benchmark
does.
"""

import re
import uuid

import pytest
from django.conf import settings
from django.urls import reverse

from reviewapp.reviews.models import Membership
from reviewapp.screening.selectors import record_panels, stage_settings_get
from reviewapp.screening.services import decision_record, note_add, tag_toggle
from tests.conftest import membership_of
from tests.factories import RecordFactory

HX = {"HTTP_HX_REQUEST": "true"}

# The session is read from Redis when there is one (settings.SESSION_ENGINE), else from the database.
SESSION = 0 if settings.SESSION_ENGINE.endswith("cached_db") else 1
# user, membership, stage settings (which say whether records were added: no query on the
# records), my leases (the prefetched record and the one after it), the records shown, their
# state/votes/tags/notes in one, my count and previous record in one, reasons
NEXT_RECORD = SESSION + 8
# user, membership, record, stage settings, token and duplicate checks (one), the locked write
# (savepoint, lock, the events so far, which the refusal and repeat checks read too, the new
# event, votes, vote, state, the kept counts (core.tally: one upsert), release), my leases, lease
# an awaiting record, lease an unscreened one, the one record rendered (the browser shows the
# other) and its state/votes/tags/notes, my count and previous record, reasons. (The ranking
# check runs after the commit, and only for a ranked queue.)
DECISION = SESSION + 21


@pytest.fixture
def screening(client, review, reviewer):
    RecordFactory.create_batch(30, review=review)
    client.force_login(reviewer)
    client.get(reverse("screening:screen", args=[review.slug, "ta"]), **HX)  # makes state rows
    return client


def test_next_record_runs_a_fixed_number_of_queries(screening, review, django_assert_num_queries):
    url = reverse("screening:screen", args=[review.slug, "ta"])
    with django_assert_num_queries(NEXT_RECORD):
        screening.get(url, **HX)
    RecordFactory.create_batch(30, review=review)
    screening.get(url, **HX)  # the new records get their state rows
    with django_assert_num_queries(NEXT_RECORD):
        screening.get(url, **HX)


def test_recording_a_decision_runs_a_fixed_number_of_queries(
    screening, review, django_assert_num_queries
):
    for _ in range(3):
        html = screening.get(reverse("screening:screen", args=[review.slug, "ta"]), **HX)
        record_id = html.content.decode().split('data-record-id="', 1)[1].split('"', 1)[0]
        url = reverse("screening:screen-decide", args=[review.slug, "ta", record_id])
        with django_assert_num_queries(DECISION):
            response = screening.post(
                url, {"value": "exclude", "client_token": str(uuid.uuid4())}, **HX
            )
        assert response.status_code == 200


def test_a_decision_as_the_page_sends_it_runs_the_same_number_of_queries(
    screening, review, django_assert_num_queries
):
    # As static/js/screening.js sends it: the prefetched record already on screen, so the
    # answer renders only the record after it.
    screen = reverse("screening:screen", args=[review.slug, "ta"])
    for _ in range(3):
        html = screening.get(screen, **HX).content.decode()
        current, upcoming = dict.fromkeys(re.findall(r'data-record-id="(\d+)"', html))
        url = reverse("screening:screen-decide", args=[review.slug, "ta", current])
        with django_assert_num_queries(DECISION):
            response = screening.post(
                url,
                {"value": "include", "client_token": str(uuid.uuid4())},
                HTTP_X_SCREEN_SHOWING=str(upcoming),
                **HX,
            )
        assert response.status_code == 200
        assert f'data-record-id="{upcoming}" data-shown="true"' in response.content.decode()


def test_the_record_the_browser_already_shows_is_sent_as_an_id_only(screening, review):
    html = screening.get(reverse("screening:screen", args=[review.slug, "ta"]), **HX)
    current, upcoming = dict.fromkeys(re.findall(r'data-record-id="(\d+)"', html.content.decode()))
    url = reverse("screening:screen-decide", args=[review.slug, "ta", current])
    response = screening.post(
        url,
        {"value": "exclude", "client_token": str(uuid.uuid4())},
        HTTP_X_SCREEN_SHOWING=str(upcoming),
        **HX,
    )
    answer = response.content.decode()
    assert f'<div class="record-panel" data-record-id="{upcoming}" data-shown="true">' in answer
    assert answer.count("decision-form") == 1  # only the new prefetched record is rendered
    assert 'name="client_token"' in answer.split("screen-prefetch")[0]


def test_a_record_panel_reads_votes_and_tags_in_one_query_and_notes_only_where_there_are_some(
    review, reviewer, reviewer2, records, django_assert_num_queries
):
    conflict, tagged, plain = records
    for user, value in ((reviewer, "include"), (reviewer2, "exclude")):
        decision_record(
            membership=membership_of(user, review), record=conflict, stage="ta", value=value
        )
    note_add(membership=membership_of(reviewer2, review), record=conflict, text="dose unclear")
    for name in ("pilot", "adults"):
        tag_toggle(membership=membership_of(reviewer, review), record=tagged, name=name)
    membership = Membership.objects.select_related("review", "user").get(
        review=review, user=reviewer
    )
    settings_ta = stage_settings_get(review, "ta")
    ids = [conflict.pk, tagged.pk, plain.pk]

    with django_assert_num_queries(3):  # the records, their parts, the one record's notes
        first, second, third = record_panels(review, "ta", ids, membership, settings_ta)
    # Both voted, so each sees the other's vote and note (blinding lifts once all votes are in).
    assert first.state == "conflict" and first.others_visible
    assert (first.my_vote.username, first.my_vote.label) == ("rita", "Include")
    assert [(v.username, v.value) for v in first.other_votes] == [("ravi", "exclude")]
    assert [n.text for n in first.notes] == ["dose unclear"] and first.hidden_notes == 0
    assert second.tags == ["adults", "pilot"] and second.my_vote is None
    assert (third.state, third.tags, third.notes, third.other_votes) == ("unscreened", [], [], [])

    with django_assert_num_queries(2):  # no notes on these: no notes query
        panels = record_panels(review, "ta", [tagged.pk, plain.pk], membership, settings_ta)
    assert [p.record.pk for p in panels] == [tagged.pk, plain.pk]


def test_a_waiting_vote_stays_hidden_in_the_panel_with_its_note(
    review, reviewer, reviewer2, records
):
    decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="exclude"
    )
    note_add(membership=membership_of(reviewer, review), record=records[0], text="rita's note")
    membership = Membership.objects.select_related("review", "user").get(
        review=review, user=reviewer2
    )
    (panel,) = record_panels(
        review, "ta", [records[0].pk], membership, stage_settings_get(review, "ta")
    )
    assert panel.state == "awaiting" and not panel.others_visible
    assert panel.my_vote is None and panel.other_votes == []
    assert panel.notes == [] and panel.hidden_notes == 1
