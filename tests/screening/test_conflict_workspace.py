"""The conflicts workspace (issue 14): one conflict in full beside the list, every vote with its
reasons, note and time, resolved through the service and followed by the next conflict."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviewapp.screening.models import Decision, ExclusionReason, RecordNote
from reviewapp.screening.services import conflict_resolve, decision_record
from tests.conftest import membership_of
from tests.factories import RecordFactory

HX = {"HTTP_HX_REQUEST": "true"}
RITAS_NOTE = "rita-thinks-the-population-is-wrong"
TEAM_NOTE = "ravi-team-note-on-dosing"


def _conflict(review, reviewer, reviewer2, record, *, reason=None, note=""):
    decision_record(
        membership=membership_of(reviewer, review),
        record=record,
        stage="ta",
        value="exclude",
        reason_ids=[reason.pk] if reason else [],
        note=note,
    )
    decision_record(
        membership=membership_of(reviewer2, review), record=record, stage="ta", value="include"
    )
    return record


@pytest.fixture
def reason(review):
    return ExclusionReason.objects.filter(review=review).order_by("position").first()


@pytest.fixture
def conflicts(review, reviewer, reviewer2, reason):
    """Three records in conflict; the first with rita's reason and note and a team note."""
    records = RecordFactory.create_batch(
        3,
        review=review,
        abstract="A randomised trial of natalizumab in relapsing MS.",
        authors=["Prosperini, L", "Kinkel, RP"],
        journal="Neurology",
    )
    _conflict(review, reviewer, reviewer2, records[0], reason=reason, note=RITAS_NOTE)
    RecordNote.objects.create(record=records[0], author=reviewer2, text=TEAM_NOTE)
    for record in records[1:]:
        _conflict(review, reviewer, reviewer2, record)
    return records


def list_url(review, stage="ta"):
    return reverse("screening:conflict-list", args=[review.slug, stage])


def detail_url(review, record, stage="ta"):
    return reverse("screening:conflict-detail", args=[review.slug, stage, record.pk])


def resolve_url(review, record, stage="ta"):
    return reverse("screening:conflict-resolve", args=[review.slug, stage, record.pk])


def test_the_first_conflict_is_shown_in_full_with_every_vote_and_its_reasons_and_note(
    client, review, owner, conflicts, reason
):
    review.keywords_include = ["random*"]
    review.save()
    client.force_login(owner)
    page = client.get(list_url(review)).content.decode()
    focus = page.split('id="conflict-focus"', 1)[1]
    assert f'data-record-id="{conflicts[0].pk}"' in page.split('id="conflict-focus"')[1][:200]
    assert '<mark class="kw-include">randomised</mark>' in focus
    assert "Prosperini, L, Kinkel, RP" in focus and "Neurology" in focus
    cards = focus.split('data-testid="vote-card"')[1:]
    assert len(cards) == 2
    ravi, rita = cards
    assert "ravi" in ravi and "Include" in ravi
    assert "rita" in rita and "Exclude" in rita and reason.label in rita and RITAS_NOTE in rita
    assert "<time datetime=" in rita
    assert TEAM_NOTE in focus
    assert 'data-testid="resolve-form"' in focus
    # The list: every conflict, with its votes as badges.
    for record in conflicts:
        assert f'id="conflict-row-{record.pk}"' in page
    assert "rita: <strong>Exclude</strong>" in page
    assert "{#" not in page and "{%" not in page


def test_resolving_from_the_workspace_brings_the_next_conflict_and_keeps_every_vote(
    client, review, owner, conflicts
):
    votes_before = list(Decision.objects.filter(kind="vote").values_list("pk", "value", "note"))
    client.force_login(owner)
    response = client.post(
        resolve_url(review, conflicts[0]), {"value": "include", "note": "fits PICO"}, **HX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="conflict-resolved"' in html and "included" in html
    assert f'data-record-id="{conflicts[1].pk}"' in html
    assert f'<li id="conflict-row-{conflicts[0].pk}" hx-swap-oob="delete">' in html
    assert 'id="conflict-counts" hx-swap-oob="true"' in html
    assert response["HX-Push-Url"] == detail_url(review, conflicts[1])
    adjudication = Decision.objects.get(kind="adjudication")
    assert (adjudication.reviewer, adjudication.value, adjudication.note) == (
        owner,
        "include",
        "fits PICO",
    )
    assert (
        list(Decision.objects.filter(kind="vote").values_list("pk", "value", "note"))
        == votes_before
    )


def test_after_the_last_conflict_the_first_one_left_comes_next(client, review, owner, conflicts):
    client.force_login(owner)
    html = client.post(resolve_url(review, conflicts[2]), {"value": "exclude"}, **HX)
    assert f'data-record-id="{conflicts[0].pk}"' in html.content.decode()


def test_resolving_the_last_conflict_says_none_are_left(client, review, owner, conflicts):
    for record in conflicts[1:]:
        conflict_resolve(
            membership=membership_of(owner, review), record=record, stage="ta", value="include"
        )
    client.force_login(owner)
    html = client.post(resolve_url(review, conflicts[0]), {"value": "exclude"}, **HX)
    assert 'data-testid="conflicts-done"' in html.content.decode()
    assert html["HX-Push-Url"] == list_url(review)


def test_a_conflict_resolved_meanwhile_by_another_admin_is_refused_naming_them(
    client, review, owner, review_admin, conflicts
):
    conflict_resolve(
        membership=membership_of(review_admin, review),
        record=conflicts[0],
        stage="ta",
        value="exclude",
    )
    client.force_login(owner)
    response = client.post(resolve_url(review, conflicts[0]), {"value": "include"}, **HX)
    assert response.status_code == 409
    html = response.content.decode()
    assert "not in conflict" in html and "adam resolved it" in html and "exclude" in html
    assert detail_url(review, conflicts[1]) in html  # the way on
    assert Decision.objects.filter(kind="adjudication").count() == 1


def test_the_same_resolution_sent_twice_is_stored_once(client, review, owner, conflicts):
    client.force_login(owner)
    token = "6f1c7f2e-2d3b-4c55-9a8e-111111111111"
    for _ in range(2):
        response = client.post(
            resolve_url(review, conflicts[0]), {"value": "include", "client_token": token}, **HX
        )
        assert response.status_code == 200
    assert Decision.objects.filter(kind="adjudication").count() == 1


def test_excluding_a_full_text_without_a_reason_is_refused_beside_the_buttons(
    client, review, owner, reviewer, reviewer2, records
):
    record = records[0]
    for user in (reviewer, reviewer2):
        decision_record(
            membership=membership_of(user, review), record=record, stage="ta", value="include"
        )
    # Included at title/abstract by agreement; now a conflict at full text.
    decision_record(
        membership=membership_of(reviewer, review),
        record=record,
        stage="ft",
        value="exclude",
        reason_ids=[ExclusionReason.objects.filter(review=review).first().pk],
    )
    decision_record(
        membership=membership_of(reviewer2, review), record=record, stage="ft", value="include"
    )
    client.force_login(owner)
    response = client.post(resolve_url(review, record, "ft"), {"value": "exclude"}, **HX)
    assert response.status_code == 422
    assert "needs at least one reason" in response.content.decode()
    assert not Decision.objects.filter(kind="adjudication").exists()


def test_a_reviewer_who_did_not_vote_sees_neither_votes_nor_notes_nor_buttons(
    client, review, conflicts, db
):
    from reviewapp.reviews.constants import Role
    from tests.factories import MembershipFactory, UserFactory

    tess = MembershipFactory(
        review=review, user=UserFactory(username="tess"), role=Role.REVIEWER
    ).user
    client.force_login(tess)
    for response in (
        client.get(list_url(review)),
        client.get(detail_url(review, conflicts[0])),
        client.get(detail_url(review, conflicts[0]), **HX),
    ):
        html = response.content.decode()
        assert response.status_code == 200
        assert RITAS_NOTE not in html and TEAM_NOTE not in html
        assert "rita" not in html and "ravi" not in html
        assert 'data-testid="resolve-form"' not in html
        assert "2 votes hidden" in html
    assert client.post(resolve_url(review, conflicts[0]), {"value": "include"}, **HX).status_code
    assert not Decision.objects.filter(kind="adjudication").exists()


def test_a_reviewer_who_voted_sees_the_other_vote_but_cannot_resolve(
    client, review, reviewer2, conflicts
):
    client.force_login(reviewer2)
    html = client.get(detail_url(review, conflicts[0]), **HX).content.decode()
    assert RITAS_NOTE in html and "rita" in html
    assert 'data-testid="resolve-form"' not in html
    response = client.post(resolve_url(review, conflicts[0]), {"value": "include"}, **HX)
    assert response.status_code == 403


def test_an_analyst_sees_every_vote_and_no_buttons(client, review, analyst, conflicts):
    client.force_login(analyst)
    html = client.get(detail_url(review, conflicts[0])).content.decode()
    assert RITAS_NOTE in html and TEAM_NOTE in html
    assert 'data-testid="resolve-form"' not in html


def test_a_record_not_in_conflict_says_so(client, review, owner, records):
    client.force_login(owner)
    response = client.get(detail_url(review, records[0]), **HX)
    assert response.status_code == 200
    assert 'data-testid="conflict-gone"' in response.content.decode()


def test_an_outsider_gets_404(client, review, outsider, conflicts):
    client.force_login(outsider)
    assert client.get(detail_url(review, conflicts[0])).status_code == 404
    assert client.post(resolve_url(review, conflicts[0]), {"value": "include"}).status_code == 404


def _count(client, url, **extra) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, **extra).status_code == 200
    return len(captured)


def test_the_workspace_runs_as_many_queries_for_many_conflicts_as_for_a_few(
    client, review, owner, reviewer, reviewer2, conflicts, reason
):
    # A resolution already in both: the latest resolutions' reasons are read only when there are
    # some (one query whatever their number).
    conflict_resolve(
        membership=membership_of(owner, review), record=conflicts[2], stage="ta", value="include"
    )
    client.force_login(owner)
    few = (_count(client, list_url(review)), _count(client, detail_url(review, conflicts[1]), **HX))
    more = RecordFactory.create_batch(12, review=review)
    for record in more:
        _conflict(review, reviewer, reviewer2, record, reason=reason, note="more")
        RecordNote.objects.create(record=record, author=reviewer, text="n")
    conflict_resolve(
        membership=membership_of(owner, review), record=more[0], stage="ta", value="exclude"
    )
    many = (
        _count(client, list_url(review)),
        _count(client, detail_url(review, conflicts[1]), **HX),
    )
    assert many == few
    assert few[0] <= 25 and few[1] <= 12


def test_a_full_text_conflict_shows_its_pdf(client, review, owner, reviewer, reviewer2, records):
    from django.core.files.base import ContentFile

    from reviewapp.screening.models import Report

    record = records[0]
    for user in (reviewer, reviewer2):
        decision_record(
            membership=membership_of(user, review), record=record, stage="ta", value="include"
        )
    report = Report.objects.create(review=review, record=record, original_filename="trial.pdf")
    report.file.save("trial.pdf", ContentFile(b"%PDF-1.4\n%test\n"), save=True)
    reason = ExclusionReason.objects.filter(review=review).first()
    decision_record(
        membership=membership_of(reviewer, review),
        record=record,
        stage="ft",
        value="exclude",
        reason_ids=[reason.pk],
    )
    decision_record(
        membership=membership_of(reviewer2, review), record=record, stage="ft", value="include"
    )
    client.force_login(owner)
    html = client.get(detail_url(review, record, "ft")).content.decode()
    pdf = reverse("screening:report-file", args=[review.slug, report.pk])
    assert f'href="{pdf}"' in html and "PDF: trial.pdf" in html


def test_a_conflict_beyond_the_first_page_is_listed_and_marked(
    client, review, owner, conflicts, monkeypatch
):
    from reviewapp.screening.views import conflicts as view

    monkeypatch.setattr(view, "CONFLICTS_PAGE", 1)
    client.force_login(owner)
    page = client.get(detail_url(review, conflicts[2]))
    assert [row.record for row in page.context["rows"]] == [conflicts[2]]
    assert page.context["focus"].record == conflicts[2]
    assert 'class="conflict-row is-current"' in page.content.decode()


def test_an_analyst_is_not_offered_the_screening_page_they_cannot_open(
    client, review, analyst, conflicts
):
    client.force_login(analyst)
    html = client.get(list_url(review)).content.decode()
    assert reverse("screening:screen", args=[review.slug, "ta"]) + '"' not in html.split("<main")[1]


def test_going_back_to_a_page_htmx_no_longer_holds_gets_the_whole_page(
    client, review, owner, conflicts
):
    client.force_login(owner)
    restore = {**HX, "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}
    html = client.get(detail_url(review, conflicts[1]), **restore).content.decode()
    assert "<html" in html and f'id="conflict-row-{conflicts[0].pk}"' in html
    assert "<html" not in client.get(detail_url(review, conflicts[1]), **HX).content.decode()
