"""The screening page: what it shows, keyboard help, prefetch, undo, and its query count."""

import uuid

from django.urls import reverse

from reviewapp.screening.models import Decision, RecordNote
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of

HX = {"HTTP_HX_REQUEST": "true"}


def screen_url(review, stage="ta"):
    return reverse("screening:screen", args=[review.slug, stage])


def decide_url(review, record, stage="ta"):
    return reverse("screening:screen-decide", args=[review.slug, stage, record.pk])


def test_the_page_shows_the_record_and_documents_every_shortcut(client, review, reviewer, records):
    records[0].abstract_sections = [
        {"label": "BACKGROUND", "text": "Why."},
        {"label": "METHODS", "text": "How."},
    ]
    records[0].pmid, records[0].doi, records[0].pmcid = "123", "10.1/x", "PMC9"
    records[0].keywords, records[0].mesh_terms = ["relapse"], ["Natalizumab"]
    records[0].authors, records[0].journal = ["Smith J", "Lee K"], "Neurology"
    records[0].save()
    client.force_login(reviewer)
    html = client.get(screen_url(review)).content.decode()
    for text in (
        "BACKGROUND",
        "METHODS",
        "Smith J",
        "Neurology",
        "relapse",
        "Natalizumab",
        "pubmed.ncbi.nlm.nih.gov/123/",
        "doi.org/10.1/x",
        "pmc/articles/PMC9",
    ):
        assert text in html
    for key in (
        "<kbd>i</kbd>",
        "<kbd>e</kbd>",
        "<kbd>m</kbd>",
        "<kbd>u</kbd>",
        "<kbd>n</kbd>",
        "<kbd>k</kbd>",
        "<kbd>j</kbd>",
        "<kbd>1</kbd>–<kbd>9</kbd>",
    ):
        assert key in html
    assert "Screened by me" in html and "waiting for a second vote" in html
    assert "js/screening.js" in html


def test_the_next_record_comes_prefetched(client, review, reviewer, records):
    client.force_login(reviewer)
    html = client.get(screen_url(review), **HX).content.decode()
    assert '<template class="screen-prefetch">' in html
    assert records[0].title in html and records[1].title in html


def test_a_decision_by_htmx_answers_with_the_next_records(client, review, reviewer, records):
    client.force_login(reviewer)
    client.get(screen_url(review), **HX)
    response = client.post(
        decide_url(review, records[0]),
        {"value": "include", "client_token": str(uuid.uuid4())},
        **HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-record-id="{records[1].pk}"' in html
    assert f'data-record-id="{records[0].pk}"' not in html


def test_bad_input_gets_a_message_naming_the_field_not_a_500(client, review, reviewer, records):
    client.force_login(reviewer)
    response = client.post(decide_url(review, records[0]), {"value": "perhaps"}, **HX)
    assert response.status_code == 422
    assert "is not a decision here" in response.content.decode()
    response = client.post(
        decide_url(review, records[0]), {"value": "include", "reasons": "x"}, **HX
    )
    assert response.status_code == 422
    assert "exclusion reasons" in response.content.decode()
    assert client.get(screen_url(review, "xx")).status_code == 404
    assert client.get(screen_url(review) + "?record=abc").status_code == 200


def test_undo_adds_an_event_and_brings_the_record_back(client, review, reviewer, records):
    client.force_login(reviewer)
    client.post(
        decide_url(review, records[0]), {"value": "exclude", "client_token": str(uuid.uuid4())}
    )
    response = client.post(
        reverse("screening:screen-undo", args=[review.slug, "ta"]),
        {"client_token": str(uuid.uuid4())},
        **HX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "was undone" in html
    assert html.index(f'data-record-id="{records[0].pk}"') < html.index("screen-prefetch")
    assert list(Decision.objects.order_by("id").values_list("value", flat=True)) == [
        "exclude",
        "retract",
    ]


def test_undo_with_nothing_to_undo_says_so(client, review, reviewer, records):
    client.force_login(reviewer)
    response = client.post(reverse("screening:screen-undo", args=[review.slug, "ta"]), **HX)
    assert "Nothing to undo" in response.content.decode()


def test_previous_shows_my_last_decision_with_my_vote(client, review, reviewer, records):
    client.force_login(reviewer)
    client.post(decide_url(review, records[0]), {"value": "maybe"})
    html = client.get(screen_url(review), **HX).content.decode()
    assert f"?record={records[0].pk}" in html
    html = client.get(screen_url(review) + f"?record={records[0].pk}", **HX).content.decode()
    assert "Your current vote" in html and "Maybe" in html
    assert "Back to the queue" in html


def test_notes_and_tags_are_added_from_the_page(client, review, reviewer, records):
    client.force_login(reviewer)
    url = reverse("screening:record-tag", args=[review.slug, "ta", records[0].pk])
    assert "pilot" in client.post(url, {"tag": "pilot"}, **HX).content.decode()
    url = reverse("screening:record-note", args=[review.slug, "ta", records[0].pk])
    assert "check dose" in client.post(url, {"text": "check dose"}, **HX).content.decode()
    response = client.post(url, {"text": "  "}, **HX)
    assert response.status_code == 422 and "Write something" in response.content.decode()


def test_the_screening_page_runs_a_fixed_number_of_queries(
    client, review, reviewer, django_assert_max_num_queries
):
    from tests.factories import RecordFactory

    RecordFactory.create_batch(30, review=review)
    client.force_login(reviewer)
    client.get(screen_url(review), **HX)  # first call creates the state rows
    with django_assert_max_num_queries(20):
        client.get(screen_url(review), **HX)
    RecordFactory.create_batch(30, review=review)
    client.get(screen_url(review), **HX)
    with django_assert_max_num_queries(20):
        client.get(screen_url(review), **HX)


def test_an_analyst_cannot_screen_note_tag_or_undo(client, review, analyst, records):
    client.force_login(analyst)
    for name, args in (
        ("screening:screen-undo", ["ta"]),
        ("screening:record-note", ["ta", records[0].pk]),
        ("screening:record-tag", ["ta", records[0].pk]),
        ("screening:screen-decide", ["ta", records[0].pk]),
    ):
        assert (
            client.post(
                reverse(name, args=[review.slug, *args]),
                {"text": "x", "tag": "x", "value": "include"},
            ).status_code
            == 403
        )
    assert not RecordNote.objects.exists()


def test_an_analyst_may_read_the_conflicts_and_export_agreement(client, review, analyst):
    client.force_login(analyst)
    assert (
        client.get(reverse("screening:conflict-list", args=[review.slug, "ta"])).status_code == 200
    )
    assert client.get(reverse("screening:agreement-csv", args=[review.slug])).status_code == 200


def test_only_owners_and_admins_edit_the_shared_reasons(client, review, reviewer, review_admin):
    url = reverse("screening:stage-settings", args=[review.slug])
    client.force_login(reviewer)
    assert client.post(url, {"action": "add", "label": "Animal study"}).status_code == 403
    client.force_login(review_admin)
    client.post(url, {"action": "add", "label": "Animal study"})
    assert review.exclusion_reasons.filter(label="Animal study").exists()
    response = client.post(url, {"action": "add", "label": "animal study"}, follow=True)
    assert "already in the list" in response.content.decode()
    reason = review.exclusion_reasons.get(label="Animal study")
    client.post(url, {"action": "retire", "reason": reason.pk})
    reason.refresh_from_db()
    assert not reason.active
    client.post(url, {"action": "queue_order", "stage": "ta", "queue_order": "random"})
    assert review.stage_settings.get(stage="ta").queue_order == "random"


def test_decision_note_is_stored_with_the_event(review, reviewer, records):
    decision, _ = decision_record(
        membership=membership_of(reviewer, review),
        record=records[0],
        stage="ta",
        value="exclude",
        note=" animal study ",
    )
    assert decision.note == "animal study"
