"""The audit log in a real browser, at desktop and phone widths: a change made on the settings
page shows in the log with its before and after; reviewers and analysts are refused."""

import pytest
from django.urls import reverse

from reviewapp.literature.duplicates import duplicate_mark
from reviewapp.reporting.services import prisma_manual_set
from reviewapp.reviews.models import Review
from reviewapp.screening.services import reason_add, reason_update
from tests.browser.look import in_viewport, look
from tests.conftest import membership_of
from tests.factories import RecordFactory


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_the_owner_sees_a_settings_change_in_the_log_and_filters_it(
    login, live_server, review, owner, viewport
):
    Review.objects.filter(pk=review.pk).update(inclusion_criteria="Adults with MS")
    me = membership_of(owner, review)
    reason = reason_add(membership=me, label="Wrong dose")
    reason_update(membership=me, reason=reason, label="Wrong dose or schedule of natalizumab")
    a, b = RecordFactory.create_batch(2, review=review)
    duplicate_mark(membership=me, duplicate_id=b.pk, primary_id=a.pk)
    prisma_manual_set(membership=me, values={"website_results": 12}, note="Google Scholar")

    page = login(owner, viewport=viewport)
    page.goto(live_server.url + reverse("reviews:review-settings", args=[review.slug]))
    page.fill(
        "textarea[name=inclusion_criteria]",
        "Adults with relapsing-remitting multiple sclerosis treated with natalizumab\n"
        "Natalizumab stopped or interrupted\nRelapses or MRI activity reported",
    )
    page.click("button.primary")
    page.wait_for_load_state()
    page.click("text=Audit log")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Audit log"
    first = page.locator("table.audit-table tbody tr").first
    assert "Eligibility criteria changed" in first.inner_text()
    assert "Natalizumab stopped or interrupted" in first.inner_text()
    look(page, f"audit-log-{viewport}")
    in_viewport(page, "h1")

    page.select_option("select[name=what]", "exclusion_reason.")
    page.click("text=Filter")
    page.wait_for_load_state()
    rows = page.locator("table.audit-table tbody tr")
    assert rows.count() == 2
    assert "Wrong dose or schedule" in rows.first.inner_text()
    look(page, f"audit-log-filtered-{viewport}")

    # A failure path: an impossible date range is named beside its field and at the top.
    page.fill("input[name=date_from]", "2026-12-10")
    page.fill("input[name=date_to]", "2026-12-01")
    page.click("text=Filter")
    page.wait_for_load_state()
    assert "These filters were not applied" in page.locator(".error-summary").inner_text()
    look(page, f"audit-log-bad-filter-{viewport}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_reviewers_and_analysts_are_refused_the_log(
    login, live_server, review, reviewer, analyst, viewport
):
    for user in (reviewer, analyst):
        page = login(user, viewport=viewport)
        page.goto(live_server.url + reverse("reviews:member-list", args=[review.slug]))
        assert page.locator("a", has_text="Audit log").count() == 0
        response = page.goto(live_server.url + reverse("audit:event-list", args=[review.slug]))
        assert response.status == 403
        look(page, f"audit-log-refused-{user.username}-{viewport}")
