"""Query counts of the two requests every screener makes per record (issue 4: 20 at once).

The queue is a few hand-written statements and the page a fixed set of small queries, whatever
the review's size; these counts catch a query added per record, or an N+1, before the benchmark
does.
"""

import re
import uuid

import pytest
from django.urls import reverse

from tests.factories import RecordFactory

HX = {"HTTP_HX_REQUEST": "true"}

# session, user, membership, stage settings, new-records check, my leases (the prefetched record
# and the one after it), 5 for the two record panels, previous record, reasons, my count
NEXT_RECORD = 14
# session, user, membership, record, token check, duplicate check, reviewers required, the locked
# write (savepoint, lock, event, events, votes, vote, state, release), stage settings, new-records
# check, my leases, lease an awaiting record, lease an unscreened one, 5 for the two panels,
# previous record, reasons, my count. (The ranking check runs after the commit, not counted here.)
DECISION = 28


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
