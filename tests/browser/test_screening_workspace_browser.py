"""The screening workspace in a real browser at 1280x800 and 390x844 (issue 14): the record and
its decision bar in view without scrolling and after scrolling a long abstract, no sideways
overflow, no serious accessibility violation, and every failure shown where it happened."""

import pytest
from django.utils import timezone

from reviewapp.literature.models import Record
from reviewapp.screening.models import Decision, RecordStageState, Report
from reviewapp.screening.queue import LEASE
from reviewapp.screening.services import decision_record
from tests.browser.conftest import wait_for
from tests.browser.look import in_viewport, look
from tests.conftest import membership_of

pytestmark = pytest.mark.django_db(transaction=True)

BAR = ".screen-current .decision-bar"
SENTENCE = (
    "Among 1,200 patients with relapsing-remitting multiple sclerosis who stopped natalizumab, "
    "disease activity returned within six months in a third, more often in younger patients. "
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def shown_record(page) -> int:
    return int(page.locator(".screen-current .record-panel").first.get_attribute("data-record-id"))


def settled(page) -> None:
    """Every decision sent has been answered."""
    wait_for(
        page,
        "document.body.getAttribute('data-screening-pending') === '0'"
        " && !document.querySelector('.screen-current.sending')",
    )


def long_abstracts(records) -> None:
    for record in records:
        record.abstract = SENTENCE * 30
        record.authors = ["Prosperini L", "Kinkel RP", "Miravalle AA", "Iaffaldano P"]
        record.journal = "Multiple Sclerosis Journal"
        record.save()


def scroll_down(page, pixels=1200) -> None:
    page.mouse.wheel(0, pixels)
    wait_for(page, f"window.scrollY >= {min(pixels, 300)}")


@pytest.mark.parametrize("viewport", ["wide", "phone"])
@pytest.mark.parametrize("who", ["reviewer", "owner"])
def test_title_abstract_and_decision_bar_are_in_view_before_and_after_scrolling(
    live_server, login, review, reviewer, owner, records, viewport, who
):
    review.inclusion_criteria = "Adults with relapsing-remitting MS who stopped natalizumab."
    review.exclusion_criteria = "Case reports; paediatric cohorts."
    review.keywords_include = ["natalizumab"]
    review.save()
    long_abstracts(records)
    page = login(reviewer if who == "reviewer" else owner, viewport=viewport)
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/")
    in_viewport(page, BAR)
    in_viewport(page, ".screen-current .record-title")
    if viewport == "wide":
        # At 1280x800 the start of the abstract is on screen too, above the bar.
        abstract = page.locator(".screen-current .abstract p").first.bounding_box()
        bar = page.locator(BAR).bounding_box()
        assert abstract["y"] + 60 < bar["y"], (abstract, bar)
    for key in ("Include", "Exclude", "Maybe"):
        assert page.locator(f"{BAR} button", has_text=key).locator("kbd").is_visible()
    # Reasons, the note and tags are folded until asked for.
    assert not page.locator(f"{BAR} fieldset.reasons").is_visible()
    assert not page.locator(".screen-current .tag-input").is_visible()
    progress = page.locator("[data-testid=progress]").inner_text()
    assert "Screened by me" in progress and "Left for me" in progress
    criteria = page.locator("aside.criteria")
    if viewport == "wide":
        assert "relapsing-remitting" in criteria.inner_text()
        # Beside the record, not below it.
        assert criteria.bounding_box()["x"] > page.locator(".record-panel").bounding_box()["x"]
    else:
        assert "relapsing-remitting" not in criteria.inner_text()
        criteria.locator("summary").first.click()
        assert "relapsing-remitting" in criteria.inner_text()
        criteria.locator("summary").first.click()
    look(page, f"screening-ta-{who}-{viewport}")
    scroll_down(page)
    in_viewport(page, BAR)
    look(page, f"screening-ta-{who}-{viewport}-scrolled", axe=False)
    # A reason key unfolds the reasons in the bar, still in view.
    page.keyboard.press("1")
    reasons = page.locator(f"{BAR} fieldset.reasons")
    assert reasons.is_visible() and reasons.locator("input:checked").count() == 1
    in_viewport(page, BAR)
    look(page, f"screening-ta-reasons-{who}-{viewport}")
    first = shown_record(page)
    page.keyboard.press("e")
    settled(page)
    decision = Decision.objects.get(record_id=first, stage="ta")
    assert decision.value == "exclude" and decision.reasons.count() == 1
    # The next record starts at the top with its bar in view.
    assert shown_record(page) != first
    in_viewport(page, BAR)
    in_viewport(page, ".screen-current .record-title")


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_a_refusal_and_a_lost_connection_are_shown_in_the_decision_bar(
    live_server, login, review, reviewer, reviewer2, owner, records, viewport
):
    long_abstracts(records)
    page = login(reviewer, viewport=viewport)
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/")
    # Offline: the decision is kept, the bar says so and offers a retry; it is stored once.
    page.context.set_offline(True)
    first = shown_record(page)
    page.keyboard.press("i")
    message = page.locator(f"{BAR} [data-testid=connection-error]")
    message.wait_for()
    assert "not saved yet" in message.inner_text()
    in_viewport(page, f"{BAR} [data-testid=connection-error]")
    look(page, f"screening-offline-{viewport}")
    page.context.set_offline(False)
    message.get_by_role("button", name="Retry now").click()
    settled(page)
    assert Decision.objects.filter(record_id=first, reviewer=reviewer).count() == 1
    assert not page.locator("[data-testid=connection-error]").count()
    # A rule of the stage: the record on screen was settled by the others meanwhile (single
    # reviewer per record), so the vote is refused and the message is in the next record's bar.
    review.stage_settings.update(reviewers_required=1)
    page.reload()
    shown = shown_record(page)
    decision_record(
        membership=membership_of(reviewer2, review),
        record=Record.objects.get(pk=shown),
        stage="ta",
        value="include",
    )
    page.keyboard.press("e")
    settled(page)
    refusal = page.locator(f"{BAR} [data-testid=screen-error]")
    refusal.wait_for()
    assert f"record {Record.objects.get(pk=shown).number} was not stored" in refusal.inner_text()
    in_viewport(page, f"{BAR} [data-testid=screen-error]")
    look(page, f"screening-refused-{viewport}")


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_full_text_failures_are_shown_beside_their_control_and_not_retrieved_moves_on(
    live_server, login, review, reviewer, records, viewport, browser_settings
):
    review.stage_settings.update(reviewers_required=1)
    long_abstracts(records)
    for record in records[:2]:
        decision_record(
            membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
        )
    browser_settings.FULLTEXT_MAX_BYTES = 2048
    page = login(reviewer, viewport=viewport)
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ft/")
    in_viewport(page, BAR)
    look(page, f"fulltext-{viewport}")
    first = shown_record(page)
    upload = page.locator(".screen-current form.report-upload")
    # Not a PDF: the server's message beside the upload control.
    upload.locator("input[type=file]").set_input_files(
        files=[
            {"name": "article.docx", "mimeType": "application/pdf", "buffer": b"PK\x03\x04 word"}
        ]
    )
    upload.get_by_role("button", name="Upload").click()
    error = page.locator(".screen-current form.report-upload [data-testid=report-error]")
    error.wait_for()
    assert "not a PDF" in error.inner_text()
    look(page, f"fulltext-not-pdf-{viewport}")
    # Too large: said before anything is sent, in the same place.
    upload = page.locator(".screen-current form.report-upload")
    upload.locator("input[type=file]").set_input_files(
        files=[{"name": "big.pdf", "mimeType": "application/pdf", "buffer": PDF + b"0" * 5000}]
    )
    upload.get_by_role("button", name="Upload").click()
    error = page.locator(".screen-current form.report-upload [data-testid=report-error]")
    wait_for(page, "!!document.querySelector('.screen-current form.report-upload .client')")
    assert "the limit is 2 KB" in error.inner_text()
    look(page, f"fulltext-too-large-{viewport}")
    assert not Report.objects.filter(record_id=first).exclude(file="").exists()
    # A PDF within the limit is taken, and the panel says so.
    upload.locator("input[type=file]").set_input_files(
        files=[{"name": "Prosperini 2019.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    upload.get_by_role("button", name="Upload").click()
    page.locator(".screen-current .report-current").wait_for()
    assert (
        "Retrieved" in page.locator(".screen-current [data-testid=retrieval-status]").inner_text()
    )
    # Not retrieved: the record leaves the screen, the next one comes, and its keys work.
    page.locator(".screen-current details.report-actions summary").click()
    page.get_by_role("button", name="Mark not retrieved").click()
    wait_for(
        page,
        f"document.querySelector('.screen-current .record-panel')?.getAttribute('data-record-id') !== '{first}'",
    )
    assert "marked not retrieved" in page.locator("#screen-area .notice-line").inner_text()
    second = shown_record(page)
    assert second == records[1].pk
    in_viewport(page, BAR)
    page.keyboard.press("i")
    settled(page)
    assert not page.locator("[data-testid=screen-error]").count()
    assert Decision.objects.get(record_id=second, stage="ft").value == "include"
    assert page.locator("[data-testid=queue-done]").is_visible()
    look(page, f"fulltext-after-not-retrieved-{viewport}")


def test_records_open_with_another_reviewer_are_said_and_come_back_when_they_leave(
    live_server, login, review, reviewer, reviewer2, records
):
    review.stage_settings.update(reviewers_required=1)
    rita = login(reviewer)
    rita.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/")
    # rita has the first two records open (on screen and prefetched); ravi takes the third.
    held = set(
        RecordStageState.objects.filter(lease_reviewer=reviewer).values_list("record_id", flat=True)
    )
    assert held == {records[0].pk, records[1].pk}
    ravi = login(reviewer2, viewport="phone")
    ravi.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/")
    assert shown_record(ravi) == records[2].pk
    ravi.keyboard.press("i")
    settled(ravi)
    # Not "nothing left": two records wait, open with rita.
    message = ravi.locator("[data-testid=queue-held]")
    message.wait_for()
    assert "2 records are open with another reviewer" in message.inner_text()
    assert not ravi.locator("[data-testid=queue-done]").count()
    look(ravi, "screening-held-phone")
    # rita leaves the page: her records go back to the queue at once.
    rita.goto(f"{live_server.url}/reviews/{review.slug}/")
    for _ in range(100):
        if not RecordStageState.objects.filter(lease_reviewer=reviewer).exists():
            break
        ravi.wait_for_timeout(50)
    assert not RecordStageState.objects.filter(lease_reviewer=reviewer).exists()
    message.get_by_role("link", name="Check again").click()
    ravi.wait_for_load_state()
    assert shown_record(ravi) == records[0].pk


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_the_owner_screens_full_texts_with_the_bar_in_view(
    live_server, login, review, owner, records, viewport
):
    review.stage_settings.update(reviewers_required=1)
    long_abstracts(records)
    decision_record(
        membership=membership_of(owner, review), record=records[0], stage="ta", value="include"
    )
    page = login(owner, viewport=viewport)
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ft/")
    in_viewport(page, BAR)
    look(page, f"fulltext-owner-{viewport}")
    scroll_down(page)
    in_viewport(page, BAR)
    # Exclusion at full text asks for its reason in the bar, then takes it.
    page.keyboard.press("e")
    refusal = page.locator(f"{BAR} [data-testid=screen-error]")
    assert "needs at least one reason" in refusal.inner_text()
    assert page.locator(f"{BAR} fieldset.reasons").is_visible()
    in_viewport(page, f"{BAR} fieldset.reasons")
    look(page, f"fulltext-owner-reason-asked-{viewport}")
    page.keyboard.press("2")
    page.keyboard.press("e")
    settled(page)
    decision = Decision.objects.get(record=records[0], stage="ft")
    assert decision.value == "exclude" and decision.reasons.count() == 1


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_a_lease_lost_while_reading_is_said_in_the_decision_bar(
    live_server, login, review, reviewer, reviewer2, records, viewport
):
    page = login(reviewer, viewport=viewport)
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/")
    shown = shown_record(page)
    # rita read past her lease and ravi was given the record; her page notices when it is
    # looked at again (it also asks every few minutes).
    RecordStageState.objects.filter(record_id=shown, stage="ta").update(
        lease_reviewer=reviewer2, lease_until=timezone.now() + LEASE
    )
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    lost = page.locator(f"{BAR} [data-testid=lease-lost]")
    lost.wait_for()
    assert "another reviewer has been given it" in lost.inner_text()
    in_viewport(page, f"{BAR} [data-testid=lease-lost]")
    look(page, f"screening-lease-lost-{viewport}")
