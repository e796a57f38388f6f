"""The screening page tells the truth about the queue (issue 14): records another reviewer has
open are said to be, a page gives its records back when it is left, a reviewer's own remaining
count in dual screening, and full-text actions answer where they were made."""

import re
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from reviewapp.screening.models import RecordStageState, Report
from reviewapp.screening.queue import LEASE, leases_held_by_others, queue_next
from reviewapp.screening.selectors import my_remaining, stage_counts
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of

HX = {"HTTP_HX_REQUEST": "true"}


def screen_url(review, stage="ta"):
    return reverse("screening:screen", args=[review.slug, stage])


def release_url(review, stage="ta"):
    return reverse("screening:screen-release", args=[review.slug, stage])


def page_id_of(html: str) -> str:
    return re.search(r'data-page-id="([0-9a-f]+)"', html).group(1)


def leased_to(user) -> set[int]:
    return set(
        RecordStageState.objects.filter(lease_reviewer=user).values_list("record_id", flat=True)
    )


def test_an_empty_queue_says_which_records_another_reviewer_has_open(
    client, review, reviewer, reviewer2, records
):
    review.stage_settings.update(reviewers_required=1)
    queue_next(review, "ta", reviewer2, limit=2)
    decision_record(
        membership=membership_of(reviewer, review), record=records[2], stage="ta", value="include"
    )
    client.force_login(reviewer)
    html = client.get(screen_url(review)).content.decode()
    assert "2 records are open with another reviewer" in html
    assert "Nothing left for you" not in html
    held = leases_held_by_others(review, "ta", reviewer)
    assert held.count == 2 and "UTC" in html
    # The holder is told nothing of the kind: the records are theirs.
    assert leases_held_by_others(review, "ta", reviewer2) is None


def test_nothing_left_is_said_only_when_nothing_is(client, review, reviewer, records):
    review.stage_settings.update(reviewers_required=1)
    for record in records:
        decision_record(
            membership=membership_of(reviewer, review), record=record, stage="ta", value="exclude"
        )
    client.force_login(reviewer)
    html = client.get(screen_url(review)).content.decode()
    assert "Nothing left for you to screen" in html and "open with another" not in html


def test_leaving_the_page_gives_its_records_back(client, review, reviewer, records):
    client.force_login(reviewer)
    page_id = page_id_of(client.get(screen_url(review)).content.decode())
    assert leased_to(reviewer) == {records[0].pk, records[1].pk}
    response = client.post(release_url(review), {"page_id": page_id})
    assert response.status_code == 204
    assert leased_to(reviewer) == set()


def test_a_page_superseded_by_a_newer_one_releases_nothing(client, review, reviewer, records):
    client.force_login(reviewer)
    old = page_id_of(client.get(screen_url(review)).content.decode())
    client.get(screen_url(review))  # a reload: the new page shows the same records
    client.post(release_url(review), {"page_id": old})
    assert leased_to(reviewer) == {records[0].pk, records[1].pk}


def test_the_release_needs_the_csrf_token(review, reviewer, records):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(reviewer)
    html = browser.get(screen_url(review)).content.decode()
    page_id = page_id_of(html)
    assert browser.post(release_url(review), {"page_id": page_id}).status_code == 403
    assert leased_to(reviewer)
    token = browser.cookies["csrftoken"].value
    response = browser.post(release_url(review), {"page_id": page_id, "csrfmiddlewaretoken": token})
    assert response.status_code == 204 and not leased_to(reviewer)


def test_an_outsider_and_an_analyst_cannot_release(client, review, analyst, outsider, records):
    for user, status in ((outsider, 404), (analyst, 403)):
        client.force_login(user)
        assert client.post(release_url(review), {"page_id": "x"}).status_code == status


def test_in_dual_screening_a_reviewer_sees_their_own_remaining_count(
    client, review, reviewer, reviewer2, records
):
    for record in records[:2]:
        decision_record(
            membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
        )
    counts = stage_counts(review, "ta")
    assert counts.remaining == 3  # one not screened, two waiting for a second vote
    assert my_remaining(review, "ta", reviewer, counts) == 1
    assert my_remaining(review, "ta", reviewer2, counts) == 3
    client.force_login(reviewer)
    html = client.get(reverse("screening:screen-progress", args=[review.slug, "ta"]), **HX)
    assert re.search(r'data-testid="my-remaining">1<', html.content.decode())


def test_marking_not_retrieved_moves_the_screen_on_to_the_next_record(
    client, review, reviewer, records
):
    review.stage_settings.update(reviewers_required=1)
    for record in records[:2]:
        decision_record(
            membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
        )
    client.force_login(reviewer)
    response = client.post(
        reverse("screening:report-update", args=[review.slug, records[0].pk]),
        {"action": "status", "status": "not_retrieved"},
        **HX,
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#screen-area"
    html = response.content.decode()
    assert 'id="screen-area"' in html and "marked not retrieved" in html
    assert f'data-record-id="{records[1].pk}"' in html
    assert f'data-record-id="{records[0].pk}"' not in html
    assert Report.objects.get(record=records[0]).retrieval_status == "not_retrieved"


def test_a_refused_upload_answers_with_its_message_beside_the_upload_control(
    client, review, reviewer, records
):
    review.stage_settings.update(reviewers_required=1)
    decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="include"
    )
    client.force_login(reviewer)
    response = client.post(
        reverse("screening:report-update", args=[review.slug, records[0].pk]),
        {"action": "upload", "file": SimpleUploadedFile("a.pdf", b"<html>no</html>")},
        **HX,
    )
    assert response.status_code == 422
    html = response.content.decode()
    upload_form = html.split('class="inline report-upload"')[1].split("</form>")[0]
    assert "not a PDF" in upload_form and 'aria-invalid="true"' in upload_form


def test_the_page_id_is_a_fresh_one_per_page(client, review, reviewer, records):
    client.force_login(reviewer)
    first = page_id_of(client.get(screen_url(review)).content.decode())
    second = page_id_of(client.get(screen_url(review)).content.decode())
    assert first != second and uuid.UUID(first)


def test_an_undo_gives_back_the_record_it_pushed_off_the_screen(client, review, reviewer, records):
    client.force_login(reviewer)
    client.get(screen_url(review))  # records 0 and 1 on screen, leased
    client.post(
        reverse("screening:screen-decide", args=[review.slug, "ta", records[0].pk]),
        {"value": "include"},
        **HX,
    )
    assert leased_to(reviewer) == {records[1].pk, records[2].pk}
    html = client.post(reverse("screening:screen-undo", args=[review.slug, "ta"]), **HX)
    html = html.content.decode()
    # Record 0 is back first, record 1 next; record 2 is no longer on screen nor held.
    assert f'data-record-id="{records[0].pk}"' in html
    assert leased_to(reviewer) == {records[0].pk, records[1].pk}


def renew_url(review, record, stage="ta"):
    return reverse("screening:screen-renew", args=[review.slug, stage, record.pk])


def test_the_page_keeps_its_record_leased_while_it_is_read(client, review, reviewer, records):
    client.force_login(reviewer)
    client.get(screen_url(review))
    row = RecordStageState.objects.get(record=records[0], stage="ta")
    RecordStageState.objects.filter(pk=row.pk).update(lease_until=row.lease_until - LEASE)
    assert client.post(renew_url(review, records[0])).status_code == 204
    row.refresh_from_db()
    assert row.lease_reviewer == reviewer and row.lease_until > timezone.now() + LEASE / 2


def test_a_lease_lost_to_another_reviewer_is_said(client, review, reviewer, reviewer2, records):
    client.force_login(reviewer)
    client.get(screen_url(review))
    # rita's lease ran out and ravi was given the record.
    RecordStageState.objects.filter(record=records[0], stage="ta").update(
        lease_reviewer=reviewer2, lease_until=timezone.now() + LEASE
    )
    response = client.post(renew_url(review, records[0]))
    assert response.status_code == 409
    assert "another reviewer has been given it" in response.content.decode()
    assert RecordStageState.objects.get(record=records[0], stage="ta").lease_reviewer == reviewer2


def test_a_record_decided_by_others_meanwhile_is_said(
    client, review, reviewer, reviewer2, review_admin, records
):
    client.force_login(reviewer)
    client.get(screen_url(review))
    for user in (reviewer2, review_admin):
        decision_record(
            membership=membership_of(user, review), record=records[0], stage="ta", value="include"
        )
    response = client.post(renew_url(review, records[0]))
    assert response.status_code == 409 and "decided by others" in response.content.decode()


def test_a_record_i_voted_on_is_not_held_for_me_when_i_look_back(client, review, reviewer, records):
    decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="include"
    )
    client.force_login(reviewer)
    assert client.post(renew_url(review, records[0])).status_code == 204
    row = RecordStageState.objects.get(record=records[0], stage="ta")
    assert row.lease_reviewer is None


def test_every_link_of_a_record_panel_is_the_url_reversed_for_that_record(owner, reviewer):
    # The panel's links are made from one reversed path per kind (selectors._record_urls): the
    # slug here holds the marker's digits, and the ids are of several lengths.
    from reviewapp.screening.selectors import _ID_MARK, record_panels, stage_settings_get
    from tests.factories import MembershipFactory, RecordFactory, review_make

    review = review_make(owner=owner, slug=f"trial-{_ID_MARK}-9")
    MembershipFactory(review=review, user=reviewer, role="reviewer")
    records = RecordFactory.create_batch(3, review=review)
    membership = membership_of(reviewer, review)
    for stage in ("ta", "ft"):
        ids = [r.pk for r in records]
        panels = record_panels(review, stage, ids, membership, stage_settings_get(review, stage))
        assert [p.record.pk for p in panels] == ids
        for panel in panels:
            args = [review.slug, stage, panel.record.pk]
            assert panel.urls is not None
            assert panel.urls.history == reverse("screening:record-history", args=args)
            assert panel.urls.decide == reverse("screening:screen-decide", args=args)
            assert panel.urls.renew == reverse("screening:screen-renew", args=args)
            assert panel.urls.tag == reverse("screening:record-tag", args=args)
            assert panel.urls.note == reverse("screening:record-note", args=args)
