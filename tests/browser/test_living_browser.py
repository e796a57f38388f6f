"""A living review's pages in chromium at both widths, as owner, reviewer and analyst: the
search's schedule, last and next run and its runs with their versions; the PRISMA page with a
version picked."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewapp.literature.constants import JobStatus, LivingSchedule
from reviewapp.literature.models import LivingVersion, Record, Search
from reviewapp.reviews.constants import Role
from tests.browser.look import look
from tests.factories import MembershipFactory, UserFactory, review_make

pytestmark = pytest.mark.django_db(transaction=True)


def _living_review():
    owner = UserFactory(username="livingowner")
    review = review_make(owner=owner, slug="living")
    reviewer, analyst = UserFactory(username="livingrev"), UserFactory(username="livingana")
    MembershipFactory(review=review, user=reviewer, role=Role.REVIEWER)
    MembershipFactory(review=review, user=analyst, role=Role.ANALYST)
    now = timezone.now()
    root = Search.objects.create(
        review=review,
        query="natalizumab AND (withdrawal OR discontinuation OR cessation)",
        status=JobStatus.DONE,
        run_at=now - timedelta(days=8),
        count_retrieved=6,
        count_new=6,
        schedule=LivingSchedule.WEEKLY,
    )
    update = Search.objects.create(
        review=review,
        query=root.query,
        status=JobStatus.DONE,
        run_at=now - timedelta(days=1),
        rerun_of=root,
        scheduled=True,
        datetype="edat",
        mindate=(now - timedelta(days=9)).strftime("%Y/%m/%d"),
        count_retrieved=3,
        count_new=3,
    )
    for i in range(9):
        Record.objects.create(
            review=review,
            search=root if i < 6 else update,
            title=f"Disease activity after stopping natalizumab, cohort {i}",
            pmid=str(30_000_000 + i),
        )
    LivingVersion.objects.create(review=review, number=1, first_number=1, last_number=6)
    LivingVersion.objects.create(
        review=review,
        number=2,
        search=update,
        first_number=7,
        last_number=9,
        previous_studies=2,
        previous_reports=3,
    )
    return review, root, {"owner": owner, "reviewer": reviewer, "analyst": analyst}


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_the_living_pages_fit_and_pass_axe_for_each_role(login, live_server, viewport):
    review, root, users = _living_review()
    for role, user in users.items():
        page = login(user, viewport=viewport)
        page.goto(
            f"{live_server.url}{reverse('literature:search-detail', args=[review.slug, root.pk])}"
        )
        assert page.get_by_role("heading", name="Living review").is_visible()
        assert page.get_by_role("link", name="version 2").is_visible()
        schedule = page.get_by_label("Run this search again by itself")
        assert schedule.count() == (1 if role == "owner" else 0)
        look(page, f"living-search-{role}-{viewport}")
        if role == "owner":
            schedule.select_option("daily")
            page.get_by_role("button", name="Save schedule").click()
            assert page.get_by_text("The search now runs daily by itself.").is_visible()

        page.goto(
            f"{live_server.url}{reverse('reporting:prisma-detail', args=[review.slug])}?version=2"
        )
        assert page.get_by_text("Version 2: only its 3 records").is_visible()
        look(page, f"living-prisma-{role}-{viewport}")
