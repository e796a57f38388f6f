"""Two reviewers screen with the keyboard in a real browser; a conflict is resolved by an admin."""

import pytest

from reviewapp.screening.models import Decision
from reviewapp.screening.selectors import stage_counts
from reviewapp.screening.services import decision_record
from tests.browser.conftest import screenshot, wait_for
from tests.conftest import membership_of

pytestmark = pytest.mark.django_db(transaction=True)


def shown_record(page) -> int:
    return int(page.locator(".screen-current .record-panel").first.get_attribute("data-record-id"))


def press(page, key):
    """Press a key and wait until every decision it sent has been answered by the server."""
    page.keyboard.press(key)
    wait_for(
        page,
        "document.body.getAttribute('data-screening-pending') === '0'"
        " && !document.querySelector('.screen-current.sending')",
    )


def test_two_reviewers_screen_by_keyboard_blinded_and_an_admin_resolves_the_conflict(
    live_server, login, review, reviewer, reviewer2, review_admin, records
):
    review.keywords_include = ["natalizumab"]
    review.inclusion_criteria = "Adults with relapsing-remitting MS who stopped natalizumab."
    review.save()
    screen = f"{live_server.url}/reviews/{review.slug}/screen/ta/"

    rita = login(reviewer)
    rita.goto(screen)
    assert rita.locator("kbd", has_text="i").first.is_visible()
    assert "relapsing-remitting" in rita.locator("aside.criteria").inner_text()
    assert rita.locator("mark.kw-include").count() >= 1
    screenshot(rita, "screening-page-ta")
    seen = []
    for key in ("i", "i", "e"):
        seen.append(shown_record(rita))
        press(rita, key)
    assert seen == [r.pk for r in records]
    assert rita.locator("[data-testid=queue-done]").is_visible()
    # Undo brings the last record back; deciding again adds events, never deletes.
    press(rita, "u")
    assert shown_record(rita) == records[2].pk
    press(rita, "e")
    assert list(
        Decision.objects.filter(record=records[2], reviewer=reviewer).values_list(
            "value", flat=True
        )
    ) == ["exclude", "retract", "exclude"]

    ravi = login(reviewer2)
    ravi.goto(screen)
    # Blinding: the record rita voted on reaches ravi without her vote.
    assert shown_record(ravi) == records[0].pk
    html = ravi.content()
    assert "rita" not in html and "Blinded" in html
    ravi.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/{records[0].pk}/history/")
    assert "rita" not in ravi.content()
    ravi.goto(screen)
    screenshot(ravi, "screening-page-blinded")
    for key in ("i", "e", "e"):
        press(ravi, key)
    counts = stage_counts(review, "ta")
    assert (counts.included, counts.excluded, counts.conflict) == (1, 1, 1)

    adam = login(review_admin)
    adam.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/conflicts/")
    row = adam.locator(f".conflict-row[data-record-id='{records[1].pk}']")
    assert "rita" in row.inner_text() and "ravi" in row.inner_text()
    screenshot(adam, "conflicts-page")
    adam.locator("#conflict-focus").get_by_role("button", name="Include").click()
    wait_for(adam, "document.querySelector('[data-testid=conflict-resolved]') !== null")
    assert "resolved" in adam.content()
    assert stage_counts(review, "ta").conflict == 0
    resolution = Decision.objects.get(kind="adjudication")
    assert (resolution.reviewer, resolution.record, resolution.value) == (
        review_admin,
        records[1],
        "include",
    )


def test_a_full_text_exclusion_without_a_reason_is_refused(
    live_server, login, review, reviewer, records
):
    review.stage_settings.update(reviewers_required=1)
    decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="include"
    )
    page = login(reviewer)
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ft/")
    assert shown_record(page) == records[0].pk
    press(page, "e")
    assert "needs at least one reason" in page.locator("[data-testid=screen-error]").inner_text()
    screenshot(page, "screening-page-ft-refused")
    assert not Decision.objects.filter(stage="ft").exists()
    press(page, "1")
    press(page, "e")
    decision = Decision.objects.get(stage="ft")
    assert decision.value == "exclude" and decision.reasons.count() == 1
