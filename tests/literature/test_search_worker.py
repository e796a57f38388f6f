"""A PubMed search asked for on the page runs in a real Celery worker: the request returns at
once, the page shows fetched / total while it runs, and a failure reads as a sentence with the
technical detail folded, retried by the worker after a wait."""

import re
import time
from datetime import UTC, date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewapp.integrations.entrez import PubMedClient, RateLimiter
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Record, Search
from reviewapp.literature.searches import SEARCH_RETRY_DELAYS, search_run
from tests.celery_worker import worker_process
from tests.fake_eutils import running_fake_eutils, spread

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

UNREACHABLE = "http://pubmed.invalid/entrez/eutils/"


@pytest.fixture(scope="module")
def pubmed_worker(django_db_setup, media_root):
    """A worker whose PubMed is the fake server, slowed between batches so progress shows."""
    with (
        running_fake_eutils() as fake,
        worker_process(
            media_root, ENTREZ_BASE_URL=fake.base_url, JOBS_TEST_STEP_DELAY_MS="400"
        ) as (queue, _hostname),
    ):
        yield fake, queue


@pytest.fixture(scope="module")
def offline_worker(django_db_setup, media_root):
    """A worker whose PubMed address cannot be looked up (as on a server without DNS)."""
    with worker_process(media_root, ENTREZ_BASE_URL=UNREACHABLE) as (queue, _hostname):
        yield queue


def _ask(client, review, query, settings) -> Search:
    """Post the search form with the web process's own PubMed set to a tripwire server.

    The worker has its own (fake or unreachable) PubMed; if the request itself asked PubMed
    anything, the tripwire would record it. "Returns at once" means exactly this: the request
    never waits on E-utilities, however slow or down they are.
    """
    with running_fake_eutils() as tripwire:
        settings.ENTREZ_BASE_URL = tripwire.base_url
        response = client.post(
            reverse("literature:search-create", args=[review.slug]), {"query": query}
        )
        assert response.status_code == 302, response.content.decode()[:500]
        assert tripwire.requests == [], "the web request called E-utilities itself"
    return Search.objects.get(review=review, query=query)


def _status_html(client, review, search) -> str:
    url = reverse("literature:search-detail", args=[review.slug, search.pk])
    return client.get(url, HTTP_HX_REQUEST="true").content.decode()


def _poll(client, review, search, until, timeout=60.0) -> list[str]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        search.refresh_from_db()
        done = until(search)
        seen.append(_status_html(client, review, search))
        if done:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"search {search.pk} still {search.status}: {search.note or search.error}")


def test_the_page_returns_at_once_and_shows_fetched_of_total(
    client, review, owner, settings, pubmed_worker
):
    fake, queue = pubmed_worker
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    fake.script_search("stopping natalizumab", spread(1200, date(2010, 1, 1), date(2012, 12, 31)))
    client.force_login(owner)
    search = _ask(client, review, "stopping natalizumab", settings)
    seen = _poll(client, review, search, lambda s: s.status == JobStatus.DONE)
    progress = {
        tuple(map(int, m)) for html in seen for m in re.findall(r"(\d+) of (\d+) records", html)
    }
    assert any(total == 1200 and 0 < done < 1200 for done, total in progress), progress
    assert Record.objects.filter(search=search).count() == 1200
    assert "Retrieved" in seen[-1]


def test_an_unreachable_pubmed_is_explained_and_retried_later(
    client, review, owner, settings, offline_worker
):
    settings.CELERY_TASK_DEFAULT_QUEUE = offline_worker
    client.force_login(owner)
    search = _ask(client, review, "natalizumab washout", settings)
    before = timezone.now()
    seen = _poll(client, review, search, lambda s: s.retry_at is not None, timeout=30)
    assert search.status == JobStatus.QUEUED
    wait = timedelta(seconds=SEARCH_RETRY_DELAYS[0])
    assert before + wait - timedelta(seconds=5) < search.retry_at < timezone.now() + wait
    html = seen[-1]
    clock = search.retry_at.astimezone(UTC).strftime("%H:%M")
    assert (
        "PubMed could not be reached (its address could not be looked up); the search will be "
        f"retried at {clock} UTC, or you can run it again now."
    ) in html
    # The technical detail is there, folded away; nothing of it in the sentence.
    summary, detail = re.search(
        r"<details class=\"technical\"><summary>(.*?)</summary><pre>(.*?)</pre>", html, re.S
    ).groups()
    assert summary == "Technical detail" and "gaierror" in detail
    assert "Run it again now" in html
    assert not Record.objects.filter(search=search).exists()

    # "Run it again now" sends it at once, and it lands back in the same waiting state.
    first_retry_at = search.retry_at
    response = client.post(reverse("literature:search-retry", args=[review.slug, search.pk]))
    assert response.status_code == 302
    _poll(
        client,
        review,
        search,
        lambda s: s.retry_at is not None and s.retry_at != first_retry_at,
        timeout=30,
    )
    assert search.status == JobStatus.QUEUED and "gaierror" in search.error_detail


def test_once_the_retries_are_used_up_the_search_fails_with_the_sentence(review, owner):
    from reviewapp.literature.searches import search_create
    from tests.conftest import membership_of

    queued = search_create(membership=membership_of(owner, review), query="natalizumab")
    client = PubMedClient(
        email="tests@example.org",
        base_url=UNREACHABLE,
        sleep=lambda s: None,
        rate_limiter=RateLimiter(0),
        max_tries=2,
    )
    failed = search_run(search_id=queued.pk, client=client, retry_in=None, tries=4)
    assert failed.status == JobStatus.FAILED
    assert failed.error == (
        "PubMed could not be reached (its address could not be looked up); tried 4 times, "
        "nothing was added. Run it again later."
    )
    assert "gaierror" in failed.error_detail and failed.retry_at is None
