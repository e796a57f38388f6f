"""Automatic retrieval of open-access full texts against fake PMC, Unpaywall and file servers.

The fakes (tests/fake_openaccess.py) listen on 127.0.0.1 and answer in the services' documented
shapes; nothing here reaches the internet. The service runs in-process here, and once through a
real Celery worker process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
import redis
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from reviewapp.core.errors import ServiceError
from reviewapp.integrations import openaccess
from reviewapp.integrations.ratelimit import RedisRateLimiter
from reviewapp.screening import retrieval as retrieval_module
from reviewapp.screening.models import Report, Retrieval
from reviewapp.screening.retrieval import retrieval_request, retrieval_run
from reviewapp.screening.services import decision_record
from tests.celery_worker import ROOT, _database_url, services_missing_reason
from tests.conftest import membership_of
from tests.factories import RecordFactory
from tests.fake_openaccess import running_fake_openaccess
from tests.pdf_builder import pdf_bytes

PDF_A = pdf_bytes("Article A\ndoi: 10.1000/one")
PDF_B = pdf_bytes("Article B\ndoi: 10.1000/two")


@pytest.fixture
def fake_openaccess():
    with running_fake_openaccess() as fake:
        yield fake


def _at_full_text(review, reviewer, **fields):
    record = RecordFactory(review=review, **fields)
    decision_record(
        membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
    )
    return record


@pytest.fixture
def world(settings, review, reviewer, fake_openaccess, monkeypatch):
    """Five records at full text, each meeting a different fate, and the fakes scripted for them."""
    review.stage_settings.update(reviewers_required=1)
    for name, value in fake_openaccess.settings.items():
        setattr(settings, name, value)
    settings.UNPAYWALL_EMAIL = "team@example.org"
    monkeypatch.setattr(retrieval_module, "RETRY_BACKOFF", 0.05)
    fake = fake_openaccess
    made = {
        "pmc": _at_full_text(review, reviewer, pmid="111", doi="10.1000/one"),
        "unpaywall": _at_full_text(review, reviewer, pmid="222", doi="10.1000/two"),
        "closed": _at_full_text(review, reviewer, pmid="333", doi="10.1000/three"),
        "html": _at_full_text(review, reviewer, pmid="", doi="10.1000/four"),
        "nothing": _at_full_text(review, reviewer, pmid="", doi=""),
    }
    fake.link("111", "PMC1110")
    fake.pmc("PMC1110", "pdf", file="a.pdf")
    fake.unpaywall("10.1000/two", "pdf", file="b.pdf")
    fake.link("333", "PMC3330")
    fake.pmc("PMC3330", "not_oa")
    fake.unpaywall("10.1000/three", "closed")
    fake.unpaywall("10.1000/four", "pdf", file="page.pdf")
    fake.file("a.pdf", PDF_A)
    fake.file("b.pdf", PDF_B)
    fake.file("page.pdf", b"<html><body>Sign in to read</body></html>", "text/html")
    return made


def _run(membership):
    """Request a run and run it here (the request's on_commit send never fires in these tests)."""
    queued = retrieval_request(membership=membership)
    return retrieval_run(retrieval_id=queued.pk)


def _items(run):
    return {item.record_id: item for item in run.items.all()}


def test_each_record_gets_its_pdf_or_the_reason_why_not(world, review, reviewer, fake_openaccess):
    run = _run(membership_of(reviewer, review))
    assert run.status == "done"
    assert (run.total, run.found) == (5, 2)
    items = _items(run)
    pmc = items[world["pmc"].pk]
    assert (pmc.outcome, pmc.source) == ("found", "pmc")
    assert pmc.url.endswith("/files/pub/pmc/oa_pdf/e1/16/a.pdf")
    report = Report.objects.get(record=world["pmc"])
    assert report.retrieval_status == "retrieved"
    assert report.file.read() == PDF_A
    assert report.files.get().uploaded_by == reviewer
    found = items[world["unpaywall"].pk]
    assert (found.outcome, found.source) == ("found", "unpaywall")
    assert "no copy linked to this PMID" in found.reason
    assert Report.objects.get(record=world["unpaywall"]).file.read() == PDF_B
    closed = items[world["closed"].pk]
    assert closed.outcome == "not_found"
    assert "PMC3330 is not in the PMC open-access subset" in closed.reason
    assert "not open access according to Unpaywall" in closed.reason
    html = items[world["html"].pk]
    assert html.outcome == "not_found"
    assert "not a PDF" in html.reason and "text/html" in html.reason
    assert "no PMID or PMCID" in items[world["nothing"].pk].reason
    assert "Unpaywall: no DOI" in items[world["nothing"].pk].reason
    assert not Report.objects.filter(record=world["html"]).exclude(file="").exists()
    # One elink for all PMIDs, with one id parameter each (one LinkSet per PMID).
    (elink,) = fake_openaccess.seen("/entrez/eutils/elink.fcgi")
    assert sorted(elink.query["id"]) == ["111", "222", "333"]
    assert elink.query["email"] and elink.query["tool"] == ["reviewapp"]
    assert all(r.query["email"] == ["team@example.org"] for r in fake_openaccess.seen("/v2/"))


def test_transient_errors_are_retried_and_a_persistent_one_is_reported(
    world, review, reviewer, fake_openaccess
):
    fake_openaccess.fault("/pmc/utils/oa/oa.fcgi", 503, times=2)
    fake_openaccess.fault("/v2/10.1000/two", 429, times=1, retry_after=0)
    fake_openaccess.fault("/v2/10.1000/three", 500, times=10)
    run = _run(membership_of(reviewer, review))
    items = _items(run)
    assert items[world["pmc"].pk].outcome == "found"
    assert items[world["unpaywall"].pk].outcome == "found"
    failed = items[world["closed"].pk]
    assert failed.outcome == "failed"
    assert "Unpaywall: HTTP 500 (4 tries)" in failed.reason


def test_a_pdf_over_the_size_limit_is_not_attached(world, settings, review, reviewer):
    settings.FULLTEXT_MAX_BYTES = 200
    run = _run(membership_of(reviewer, review))
    item = _items(run)[world["pmc"].pk]
    assert item.outcome == "not_found"
    assert "over the 0 MB limit" in item.reason or "larger than" in item.reason
    assert not Report.objects.exclude(file="").exists()


def test_without_an_unpaywall_email_only_pmc_is_asked(
    world, settings, review, reviewer, fake_openaccess
):
    settings.UNPAYWALL_EMAIL = ""
    run = _run(membership_of(reviewer, review))
    assert run.found == 1
    assert not fake_openaccess.seen("/v2/")
    assert "UNPAYWALL_EMAIL is not set" in _items(run)[world["unpaywall"].pk].reason


def test_records_with_a_pdf_are_left_alone_and_a_second_run_has_nothing_new(
    world, review, reviewer
):
    membership = membership_of(reviewer, review)
    first = _run(membership)
    assert first.found == 2
    second = _run(membership)
    assert second.total == 3
    assert world["pmc"].pk not in _items(second)
    assert Report.objects.get(record=world["pmc"]).files.count() == 1


def test_a_redelivered_task_does_not_run_the_job_twice(world, review, reviewer, fake_openaccess):
    run = _run(membership_of(reviewer, review))
    before = len(fake_openaccess.requests)
    again = retrieval_run(retrieval_id=run.pk)
    assert again.status == "done" and len(fake_openaccess.requests) == before


def test_an_analyst_cannot_start_a_retrieval(world, review, analyst):
    with pytest.raises(PermissionDenied, match="does not allow this"):
        retrieval_request(membership=membership_of(analyst, review))
    assert not Retrieval.objects.exists()


def test_nothing_to_retrieve_is_said_plainly(review, reviewer):
    with pytest.raises(ServiceError, match="nothing to retrieve"):
        retrieval_request(membership=membership_of(reviewer, review))


def test_ncbi_requests_are_spaced_by_the_shared_limiter(
    world, settings, review, reviewer, fake_openaccess
):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the limiter is shared through Redis")
    redis.Redis.from_url(settings.REDIS_URL).delete("ratelimit:ncbi:nokey")
    for n in range(4, 8):
        record = _at_full_text(review, reviewer, pmid=f"{n}00", doi="")
        fake_openaccess.link(record.pmid, f"PMC{n}00")
        fake_openaccess.pmc(f"PMC{n}00", "tgz")
    _run(membership_of(reviewer, review))
    ncbi = [r.at for r in fake_openaccess.requests if r.path.startswith(("/entrez", "/pmc"))]
    assert len(ncbi) == 7  # one elink, six OA-service lookups
    gaps = [b - a for a, b in zip(ncbi, ncbi[1:], strict=False)]
    # NCBI without an API key: 3 a second. 0.37 s apart, with a little slack for the clock.
    assert min(gaps) >= 0.35, gaps


def test_the_redis_limiter_is_shared_between_clients(settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    key = f"ratelimit:test:{uuid.uuid4().hex}"
    one = RedisRateLimiter(redis.Redis.from_url(settings.REDIS_URL), key, 0.5)
    two = RedisRateLimiter(redis.Redis.from_url(settings.REDIS_URL), key, 0.5)
    waits = [one.reserve(), two.reserve(), one.reserve(), two.reserve()]
    assert waits[0] < 0.05
    for n, wait in enumerate(waits[1:], start=1):
        assert 0.5 * n - 0.1 <= wait <= 0.5 * n + 0.01, waits


def test_a_pdf_link_to_a_private_address_is_not_fetched(world, settings, review, reviewer):
    settings.OPENACCESS_ALLOW_PRIVATE_HOSTS = False
    run = _run(membership_of(reviewer, review))
    item = _items(run)[world["pmc"].pk]
    assert item.outcome == "not_found"
    assert "points at a private address (127.0.0.1); not fetched" in item.reason
    assert not Report.objects.exclude(file="").exists()


def test_pmc_ftp_links_are_fetched_over_https():
    assert (
        openaccess.https_for_ncbi_ftp("ftp://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_pdf/x.pdf")
        == "https://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_pdf/x.pdf"
    )


def test_a_landing_page_without_pdf_is_reported(fake_openaccess):
    fake_openaccess.unpaywall("10.1000/green", "landing")
    lookup = openaccess.unpaywall_lookup(
        openaccess.HttpClient(max_tries=1),
        fake_openaccess.settings["UNPAYWALL_BASE_URL"],
        "10.1000/green",
        email="a@example.org",
        limiter=openaccess.NoLimit(),
    )
    assert lookup.pdf_url == "" and "no PDF link" in lookup.reason
    assert lookup.landing_url == "https://repository.example.org/handle/1234"


# --- the page --------------------------------------------------------------------------------


def test_the_page_starts_a_run_and_shows_the_report(client, world, review, reviewer, analyst):
    url = reverse("screening:fulltext-retrieval", args=[review.slug])
    client.force_login(reviewer)
    page = client.get(url).content.decode()
    assert "Find open-access PDFs</button>" in page
    response = client.post(url)
    assert response.status_code == 302
    retrieval_run(retrieval_id=Retrieval.objects.get().pk)
    page = client.get(url).content.decode()
    assert "PDF attached" in page and "PubMed Central" in page
    assert "not in the PMC open-access subset" in page
    client.force_login(analyst)
    assert client.post(url).status_code == 403
    assert "Find open-access PDFs</button>" not in client.get(url).content.decode()


def test_a_merged_primary_is_found_by_its_duplicates_doi_and_listed_merged(
    client, settings, review, reviewer, fake_openaccess
):
    """The primary has no identifier of its own; its merged cluster has the duplicate's DOI."""
    from reviewapp.literature import merges
    from reviewapp.literature.models import DuplicateLink

    review.stage_settings.update(reviewers_required=1)
    for name, value in fake_openaccess.settings.items():
        setattr(settings, name, value)
    settings.UNPAYWALL_EMAIL = "team@example.org"
    primary = _at_full_text(review, reviewer, pmid="", doi="", title="Stopping natalizumab")
    duplicate = RecordFactory(
        review=review, doi="10.1000/two", title="Stopping natalizumab (Embase)"
    )
    DuplicateLink.objects.create(
        review=review, primary=primary, duplicate=duplicate, rule="title_year_author"
    )
    membership = membership_of(reviewer, review)
    merges.cluster_merge(
        membership=membership, primary_id=primary.pk, choices={"title": duplicate.pk}
    )
    fake_openaccess.unpaywall("10.1000/two", "pdf", file="b.pdf")
    fake_openaccess.file("b.pdf", PDF_B)
    run = _run(membership)
    assert _items(run)[primary.pk].outcome == "found"
    assert Report.objects.get(record=primary).file.read() == PDF_B
    client.force_login(reviewer)
    page = client.get(reverse("screening:fulltext-retrieval", args=[review.slug]))
    assert "Stopping natalizumab (Embase)" in page.content.decode()


# --- through a real worker ---------------------------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retrieves_through_the_fakes(media_root, review, reviewer):
    reason = services_missing_reason()
    if reason:
        pytest.skip(reason)
    from reviewapp.celery import app

    review.stage_settings.update(reviewers_required=1)
    with running_fake_openaccess() as fake:
        record = _at_full_text(review, reviewer, pmid="111", doi="10.1000/one")
        fake.link("111", "PMC1110")
        fake.pmc("PMC1110", "pdf", file="a.pdf")
        fake.file("a.pdf", PDF_A)
        queue = f"retrieval-{uuid.uuid4().hex[:10]}"
        hostname = f"{queue}@testhost"
        env = {
            **os.environ,
            **fake.settings,
            "UNPAYWALL_EMAIL": "team@example.org",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": django_settings.REDIS_URL,
            "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
            "MEDIA_ROOT": str(media_root),
        }
        worker = subprocess.Popen(
            [
                sys.executable,
                *("-m", "celery", "-A", "reviewapp", "worker", "--pool=solo"),
                *("--loglevel=WARNING", "-Q", queue, "-n", hostname),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not app.control.ping(destination=[hostname], timeout=0.5):
                assert worker.poll() is None and time.monotonic() < deadline
            run = retrieval_request(membership=membership_of(reviewer, review), queue=queue)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                run.refresh_from_db()
                if run.status in ("done", "failed"):
                    break
                time.sleep(0.2)
            assert run.status == "done", run.error
            assert run.found == 1
            assert Report.objects.get(record=record).file.read() == PDF_A
            assert fake.seen("/pmc/utils/oa/oa.fcgi")
        finally:
            worker.terminate()
            worker.wait(timeout=20)
