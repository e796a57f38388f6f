"""In a real browser: a vote on a record settled meanwhile is refused with a message, and the
full-text panel lists earlier PDFs (issue 12). Desktop and phone widths, with screenshots."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviewapp.literature.models import Record
from reviewapp.reviews.constants import Role
from reviewapp.screening.fulltext import report_upload
from reviewapp.screening.models import Decision
from reviewapp.screening.selectors import stage_states
from reviewapp.screening.services import decision_record
from tests.browser.conftest import screenshot, wait_for
from tests.conftest import membership_of
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_vote_on_a_record_settled_meanwhile_is_refused_with_a_message_on_the_page(
    live_server, login, review, reviewer, reviewer2, records, viewport
):
    rosa = MembershipFactory(
        review=review, user=UserFactory(username="rosa"), role=Role.REVIEWER
    ).user
    page = login(rosa)
    page.set_viewport_size(dict(zip(("width", "height"), VIEWPORTS[viewport], strict=True)))
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/")
    shown = int(page.locator(".screen-current .record-panel").first.get_attribute("data-record-id"))
    # While rosa reads, the two other reviewers settle the record she has on screen.
    record = next(r for r in records if r.pk == shown)
    for user in (reviewer, reviewer2):
        decision_record(
            membership=membership_of(user, review), record=record, stage="ta", value="include"
        )
    page.keyboard.press("e")
    alert = page.locator("[data-testid=screen-error]")
    alert.wait_for()
    assert (
        f"Your vote on record {Record.objects.get(pk=shown).number} was not stored"
        in alert.inner_text()
    )
    assert alert.is_visible() and no_sideways_scroll(page)
    # The queue goes on with another record; the settled one is not reopened.
    next_shown = page.locator(".screen-current .record-panel").first.get_attribute("data-record-id")
    assert int(next_shown) != shown
    assert Decision.objects.filter(record=record).count() == 2
    assert stage_states(review, "ta")[record.pk] == "included"
    screenshot(page, f"screening-vote-refused-{viewport}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_full_text_panel_lists_earlier_pdfs_to_download(
    live_server, login, review, reviewer, reviewer2, records, viewport
):
    review.stage_settings.update(reviewers_required=1)
    record = records[0]
    decision_record(
        membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
    )
    for user, name, content in (
        (reviewer, "Prosperini 2019 accepted manuscript.pdf", b"%PDF-1.4\nfirst\n%%EOF\n"),
        (reviewer2, "Prosperini 2019 publisher version.pdf", b"%PDF-1.7\nsecond\n%%EOF\n"),
    ):
        report_upload(
            membership=membership_of(user, review),
            record=record,
            upload=SimpleUploadedFile(name, content, "application/pdf"),
        )
    page = login(reviewer)
    page.set_viewport_size(dict(zip(("width", "height"), VIEWPORTS[viewport], strict=True)))
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ft/")
    history = page.locator("details.report-history")
    assert "Earlier PDFs (1)" in history.inner_text()
    history.locator("summary").click()
    link = history.locator("a", has_text="accepted manuscript")
    assert link.is_visible() and no_sideways_scroll(page)
    assert "uploaded by ravi" in page.locator(".report-current").inner_text()
    response = page.request.get(live_server.url + link.get_attribute("href"))
    assert response.status == 200 and response.body() == b"%PDF-1.4\nfirst\n%%EOF\n"
    screenshot(page, f"fulltext-history-{viewport}")


def test_without_javascript_the_refusal_is_shown_on_the_reloaded_page(
    chromium, live_server, browser_settings, review, reviewer, reviewer2, records
):
    rosa = MembershipFactory(
        review=review, user=UserFactory(username="rosa"), role=Role.REVIEWER
    ).user
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", rosa.username)
        page.fill("input[name=password]", "correct horse battery staple")
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/")
        panel = page.locator(".screen-current .record-panel").first
        shown = int(panel.get_attribute("data-record-id"))
        record = next(r for r in records if r.pk == shown)
        for user in (reviewer, reviewer2):
            decision_record(
                membership=membership_of(user, review), record=record, stage="ta", value="include"
            )
        panel.locator("button[value=exclude]").click()
        page.wait_for_load_state()
        message = page.locator(".messages .message-error")
        assert (
            f"Your vote on record {Record.objects.get(pk=shown).number} was not stored"
            in message.inner_text()
        )
        assert no_sideways_scroll(page)
        assert Decision.objects.filter(record=record).count() == 2
        screenshot(page, "screening-vote-refused-nojs-phone")
    finally:
        context.close()


def test_a_refusal_answered_while_the_next_decision_is_pending_is_still_shown(
    live_server, login, review, reviewer, reviewer2, records
):
    rosa = MembershipFactory(
        review=review, user=UserFactory(username="rosa"), role=Role.REVIEWER
    ).user
    page = login(rosa)
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/")
    shown = int(page.locator(".screen-current .record-panel").first.get_attribute("data-record-id"))
    record = next(r for r in records if r.pk == shown)
    for user in (reviewer, reviewer2):
        decision_record(
            membership=membership_of(user, review), record=record, stage="ta", value="include"
        )
    # Hold the first decision's request until the reviewer has made the next decision.
    held = []
    page.route(f"**/ta/{shown}/decide/", lambda route: held.append(route))
    page.keyboard.press("e")
    wait_for(page, "document.body.getAttribute('data-screening-pending') === '1'")
    page.keyboard.press("i")
    wait_for(page, "document.body.getAttribute('data-screening-pending') === '2'")
    page.wait_for_timeout(200)
    assert len(held) == 1
    held[0].continue_()
    wait_for(page, "document.body.getAttribute('data-screening-pending') === '0'")
    alert = page.locator("[data-testid=screen-error]")
    alert.wait_for()
    assert (
        f"Your vote on record {Record.objects.get(pk=shown).number} was not stored"
        in alert.inner_text()
    )
    assert Decision.objects.filter(record=record).count() == 2
    assert Decision.objects.filter(reviewer=rosa).count() == 1  # the next record's vote
    screenshot(page, "screening-vote-refused-while-pending")
