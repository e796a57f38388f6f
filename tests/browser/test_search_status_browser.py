"""A PubMed search's page in chromium at both widths: waiting for a retry and failed, each with
its sentence, the technical detail folded, and the button to run it again."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Search
from tests.browser.look import look
from tests.factories import UserFactory, review_make

pytestmark = pytest.mark.django_db(transaction=True)

DETAIL = (
    "esearch 'natalizumab AND (withdrawal OR discontinuation OR cessation)' failed after 2 "
    "tries: gaierror: [Errno -2] Name or service not known"
)


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_a_waiting_and_a_failed_search_explain_themselves(login, live_server, viewport):
    owner = UserFactory(username="searcher")
    review = review_make(owner=owner, slug="searches")
    waiting = Search.objects.create(
        review=review,
        query="natalizumab AND (withdrawal OR discontinuation OR cessation)",
        status=JobStatus.QUEUED,
        retry_at=timezone.now() + timedelta(minutes=5),
        sent_at=timezone.now(),
        note="PubMed could not be reached (its address could not be looked up); the search "
        "will be retried at 14:05 UTC, or you can run it again now.",
        error_detail=DETAIL,
    )
    failed = Search.objects.create(
        review=review,
        query="natalizumab",
        status=JobStatus.FAILED,
        error="PubMed could not be reached (its address could not be looked up); tried 4 "
        "times, nothing was added. Run it again later.",
        error_detail=DETAIL,
    )
    page = login(owner, viewport=viewport)

    page.goto(
        f"{live_server.url}{reverse('literature:search-detail', args=[review.slug, waiting.pk])}"
    )
    assert page.get_by_text("Waiting to try again").is_visible()
    assert page.get_by_test_id("search-note").inner_text().startswith("PubMed could not be reached")
    assert not page.get_by_text("gaierror").is_visible()  # folded
    assert page.get_by_role("button", name="Run it again now").is_visible()
    look(page, f"search-waiting-{viewport}")
    page.get_by_text("Technical detail").click()
    assert page.get_by_text("gaierror").is_visible()
    look(page, f"search-waiting-detail-{viewport}")

    page.goto(
        f"{live_server.url}{reverse('literature:search-detail', args=[review.slug, failed.pk])}"
    )
    assert page.get_by_test_id("search-error").inner_text().endswith("Run it again later.")
    assert page.get_by_role("button", name="Run it again").is_visible()
    look(page, f"search-failed-{viewport}")
