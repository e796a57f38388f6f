"""Living reviews: a stored search on a schedule asks PubMed only for records entered since its
last good run, adds only records new to the review, and makes a new version of the review with
PRISMA's "previous" boxes filled; a failed update lands nothing and is queued again."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.audit.models import AuditEvent
from reviewapp.integrations.entrez import PubMedClient, RateLimiter
from reviewapp.literature.constants import JobStatus, LivingSchedule
from reviewapp.literature.living import living_due_queue, living_next_run, search_schedule_set
from reviewapp.literature.models import LivingVersion, Record, Search
from reviewapp.literature.searches import search_create, search_run
from reviewapp.reporting.constants import ManualPrismaField
from reviewapp.reporting.services import prisma_manual_set
from tests.conftest import membership_of
from tests.fake_eutils import Fault, spread

QUERY = "natalizumab discontinuation"


@pytest.fixture
def client_for(fake_eutils):
    """A client on the fake server that never waits (no rate-limit sleeps, no backoff sleeps)."""

    def make(**options) -> PubMedClient:
        return PubMedClient(
            email="tests@example.org",
            base_url=fake_eutils.base_url,
            sleep=lambda seconds: None,
            rate_limiter=RateLimiter(0),
            timeout=5,
            **options,
        )

    return make


def _today() -> date:
    return timezone.now().date()


def _first_run(
    review, owner, fake_eutils, client_for, *, ran_days_ago: int, entered_until: int | None = None
) -> Search:
    """A stored search that found 60 records and ran well `ran_days_ago` days ago (PubMed entered
    those records up to `entered_until` days ago, by default a few days before the run), set to
    re-run daily."""
    today = _today()
    until = ran_days_ago + 3 if entered_until is None else entered_until
    old_days = spread(60, today - timedelta(days=until + 29), today - timedelta(days=until))
    fake_eutils.script_search(QUERY, old_days)
    membership = membership_of(owner, review)
    first = search_run(
        search_id=search_create(membership=membership, query=QUERY).pk, client=client_for()
    )
    assert first.status == JobStatus.DONE and first.count_new == 60
    Search.objects.filter(pk=first.pk).update(run_at=timezone.now() - timedelta(days=ran_days_ago))
    search_schedule_set(membership=membership, search=first, schedule=LivingSchedule.DAILY)
    first.refresh_from_db()
    return first


def _pubmed_adds(fake_eutils, review_days: dict[date, int]) -> None:
    """PubMed has entered more records for the query since (scripting keeps the old PMIDs)."""
    current = dict(fake_eutils._searches[QUERY].per_day)
    fake_eutils.script_search(QUERY, {**current, **review_days})


def test_a_due_update_asks_only_for_records_entered_since_the_last_run(
    review, owner, fake_eutils, client_for
):
    first = _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2)
    today = _today()
    _pubmed_adds(fake_eutils, {today - timedelta(days=1): 15, today: 10})

    queued = living_due_queue()
    assert len(queued) == 1
    run = Search.objects.get(pk=queued[0])
    assert (run.rerun_of_id, run.scheduled, run.datetype) == (first.pk, True, "edat")
    done = search_run(search_id=run.pk, client=client_for())

    asked = fake_eutils.requests_to("esearch")[-1].params
    assert asked["datetype"] == "edat"
    # From the day before the last run (a day of margin for PubMed's US time zone).
    assert asked["mindate"] == (today - timedelta(days=3)).strftime("%Y/%m/%d")
    assert done.status == JobStatus.DONE
    # Only the 25 records entered since were fetched, not the 60 the review already has.
    assert (done.count_reported, done.count_retrieved, done.count_new) == (25, 25, 25)
    assert len(fake_eutils.requests_to("efetch")) == 2  # one batch for the first run, one now
    assert Record.objects.filter(review=review).count() == 85


def test_records_the_review_already_holds_are_not_added_again(
    review, owner, fake_eutils, client_for
):
    # PubMed entered records up to yesterday and the run saw them all: the update's window
    # (from the day before the last run) reaches back over records the review already holds.
    first = _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2, entered_until=1)
    _pubmed_adds(fake_eutils, {_today(): 7})
    run = search_run(search_id=living_due_queue()[0], client=client_for())
    assert run.count_retrieved > 7
    assert run.count_new == 7
    assert Record.objects.filter(review=review).count() == 67
    assert Record.objects.filter(review=review).values("pmid").distinct().count() == 67
    assert first.reruns.get() == run


def test_an_update_is_a_new_version_with_the_previous_boxes_filled(
    review, owner, fake_eutils, client_for
):
    _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2)
    # Version 1's studies were counted by hand (a review that started outside the app).
    prisma_manual_set(
        membership=membership_of(owner, review),
        values={ManualPrismaField.OTHER_STUDIES: 4, ManualPrismaField.OTHER_ASSESSED: 5},
    )
    _pubmed_adds(fake_eutils, {_today(): 12})
    run = search_run(search_id=living_due_queue()[0], client=client_for())

    one, two = LivingVersion.objects.filter(review=review).order_by("number")
    assert (one.number, one.first_number, one.last_number, one.search) == (1, 1, 60, None)
    assert (two.number, two.first_number, two.last_number, two.search) == (2, 61, 72, run)
    assert (two.previous_studies, two.previous_reports) == (4, 5)
    assert two.records_count == run.count_new == 12


def test_a_failed_update_lands_nothing_and_is_queued_again(review, owner, fake_eutils, client_for):
    first = _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2)
    _pubmed_adds(fake_eutils, {_today(): 600})
    # The second batch of the update fails (the first, 500 records, was already parsed and
    # written inside the run's transaction).
    fake_eutils.inject(Fault.http(500), on=3, utility="efetch", times=1)
    failed = search_run(search_id=living_due_queue()[0], client=client_for(max_tries=1))
    assert failed.status == JobStatus.FAILED
    assert "nothing was added" in failed.error
    assert Record.objects.filter(review=review).count() == 60
    assert not LivingVersion.objects.filter(review=review).exists()

    # The next beat queues a new update from the same last good run.
    again = living_due_queue()
    assert len(again) == 1 and again[0] != failed.pk
    done = search_run(search_id=again[0], client=client_for())
    assert done.status == JobStatus.DONE and done.count_new == 600
    assert first.reruns.count() == 2
    assert LivingVersion.objects.get(review=review, number=2).search == done


def test_two_beats_queue_one_update(review, owner, fake_eutils, client_for):
    _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2)
    assert len(living_due_queue()) == 1
    assert living_due_queue() == []
    assert Search.objects.filter(review=review, scheduled=True).count() == 1


def test_a_search_is_due_only_when_its_period_has_passed(review, owner, fake_eutils, client_for):
    first = _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2)
    search_schedule_set(
        membership=membership_of(owner, review), search=first, schedule=LivingSchedule.WEEKLY
    )
    first.refresh_from_db()
    assert living_due_queue() == []
    assert living_next_run(first) == first.run_at + timedelta(weeks=1)
    search_schedule_set(
        membership=membership_of(owner, review), search=first, schedule=LivingSchedule.OFF
    )
    first.refresh_from_db()
    assert living_next_run(first) is None
    assert living_due_queue(now=timezone.now() + timedelta(days=400)) == []


def test_the_schedule_change_is_audited_and_only_managers_may_make_it(
    review, owner, reviewer, fake_eutils, client_for
):
    first = _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2)
    event = AuditEvent.objects.get(review=review, action=Action.SEARCH_SCHEDULE_CHANGED)
    assert event.before == {"schedule": "off"} and event.after == {"schedule": "daily"}
    with pytest.raises(PermissionDenied):
        search_schedule_set(
            membership=membership_of(reviewer, review), search=first, schedule="weekly"
        )
    first.refresh_from_db()
    assert first.schedule == LivingSchedule.DAILY


def test_a_monthly_schedule_falls_on_the_same_day_or_the_months_last():
    from datetime import UTC, datetime

    from reviewapp.literature.living import _period_after

    jan31 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    assert _period_after(jan31, "monthly") == datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    assert _period_after(datetime(2026, 12, 5, tzinfo=UTC), "monthly") == datetime(
        2027, 1, 5, tzinfo=UTC
    )
    assert _period_after(jan31, "weekly") == datetime(2026, 2, 7, 9, 0, tzinfo=UTC)


def test_members_who_asked_hear_of_the_new_records_and_can_turn_it_off(
    client, settings, review, owner, analyst, fake_eutils, client_for
):
    import re

    from reviewapp.mail.models import OutboundEmail
    from reviewapp.notifications.models import NotificationPreference
    from reviewapp.notifications.services import digests_send, preference_set

    settings.SITE_URL = "https://reviews.example.org"
    _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2)
    # The analyst has nothing to vote on: only the living search can make them hear anything.
    preference_set(membership=membership_of(analyst, review), frequency="immediate")
    digests_send()
    assert not OutboundEmail.objects.filter(to__contains=[analyst.email]).exists()

    _pubmed_adds(fake_eutils, {_today(): 12})
    run = search_run(search_id=living_due_queue()[0], client=client_for())
    digests_send()
    [message] = OutboundEmail.objects.filter(kind="digest", to__contains=[analyst.email])
    assert "12 new record(s) found by the living search (version 2)" in message.body
    assert f"/reviews/{review.slug}/sources/searches/{run.pk}/" in message.body

    # The unsubscribe link works as for every other kind of message.
    path = re.search(r"(/notifications/unsubscribe/\S+/)", message.body).group(1)
    assert client.post(path).status_code == 200
    assert NotificationPreference.objects.get(membership__user=analyst).frequency == "off"


def test_a_scheduled_update_that_fails_for_good_is_reported_to_the_managers(
    settings, review, owner, analyst, fake_eutils, client_for
):
    from reviewapp.mail.models import OutboundEmail
    from reviewapp.notifications.services import digests_send, preference_set

    _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2)
    for member in (owner, analyst):
        preference_set(membership=membership_of(member, review), frequency="immediate")
    _pubmed_adds(fake_eutils, {_today(): 12})
    fake_eutils.inject(Fault.http(500), on=2, utility="efetch", times=1)
    failed = search_run(search_id=living_due_queue()[0], client=client_for(max_tries=1))
    assert failed.status == JobStatus.FAILED
    digests_send()
    [message] = OutboundEmail.objects.filter(kind="digest", to__contains=[owner.email])
    assert "1 scheduled update(s) of a living search failed: " + failed.error in message.body
    assert not OutboundEmail.objects.filter(to__contains=[analyst.email]).exists()


def test_the_prisma_page_shows_a_version_with_only_its_records_and_the_previous_boxes(
    client, review, owner, fake_eutils, client_for
):
    from reviewapp.reporting.selectors import prisma_counts_recount

    _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2)
    prisma_manual_set(
        membership=membership_of(owner, review),
        values={ManualPrismaField.OTHER_STUDIES: 4, ManualPrismaField.OTHER_ASSESSED: 5},
    )
    _pubmed_adds(fake_eutils, {_today(): 12})
    search_run(search_id=living_due_queue()[0], client=client_for())
    two = LivingVersion.objects.get(review=review, number=2)

    counts = prisma_counts_recount(review, version=two)
    assert counts.databases == {"PubMed": 12}
    assert (counts.duplicates, counts.records_screened) == (9, 3)
    assert (counts.previous_studies, counts.previous_reports) == (4, 5)
    assert (counts.total_studies, counts.total_reports) == (4, 5)  # nothing new included yet
    assert prisma_counts_recount(review).databases == {"PubMed": 72}

    client.force_login(owner)
    url = reverse("reporting:prisma-detail", args=[review.slug])
    page = client.get(url, {"version": 2}).content.decode()
    assert "Version 2: only its 12 records (numbers 61 to 72)" in page
    assert "the 4 studies and 5 reports included before this update" in page
    # The fake's records repeat three articles' DOIs and titles: 9 of the 12 duplicate records
    # the review holds (found through the update's candidate lookups) and only 3 are screened.
    assert "Title and abstract: 3 records still being screened" in page
    assert client.get(url, {"version": 9}).status_code == 404
    assert client.get(url, {"version": "x"}).status_code == 404


def test_the_search_page_sets_the_schedule_and_lists_each_run_with_its_version(
    client, review, owner, reviewer, fake_eutils, client_for
):
    first = _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2)
    _pubmed_adds(fake_eutils, {_today(): 12})
    run = search_run(search_id=living_due_queue()[0], client=client_for())

    client.force_login(owner)
    page_url = reverse("literature:search-detail", args=[review.slug, first.pk])
    page = client.get(page_url).content.decode()
    assert "Last good run" in page and "Next run" in page
    assert '?version=2">version 2</a> (12 records)' in page
    assert f"#{run.pk}</a>" in page and "scheduled, entered since" in page

    schedule_url = reverse("literature:search-schedule", args=[review.slug, run.pk])
    response = client.post(schedule_url, {"schedule": "monthly"})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.schedule == LivingSchedule.MONTHLY  # set on the stored search, from any run
    assert client.post(schedule_url, {"schedule": "hourly"}).status_code == 302
    first.refresh_from_db()
    assert first.schedule == LivingSchedule.MONTHLY

    client.force_login(reviewer)
    assert "Save schedule" not in client.get(page_url).content.decode()
    assert client.post(schedule_url, {"schedule": "off"}).status_code == 403
    first.refresh_from_db()
    assert first.schedule == LivingSchedule.MONTHLY


def test_retrying_a_failed_update_once_a_newer_one_is_queued_is_refused_with_a_reason(
    review, owner, fake_eutils, client_for
):
    from reviewapp.core.errors import ServiceError
    from reviewapp.literature.searches import search_retry

    _first_run(review, owner, fake_eutils, client_for, ran_days_ago=2)
    _pubmed_adds(fake_eutils, {_today(): 12})
    fake_eutils.inject(Fault.http(500), on=2, utility="efetch", times=1)
    failed = search_run(search_id=living_due_queue()[0], client=client_for(max_tries=1))
    assert failed.status == JobStatus.FAILED
    assert len(living_due_queue()) == 1
    with pytest.raises(ServiceError, match="A newer scheduled update of this search"):
        search_retry(membership=membership_of(owner, review), search=failed)
    failed.refresh_from_db()
    assert failed.status == JobStatus.FAILED
