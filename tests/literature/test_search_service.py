"""PubMed searches through the real Bio.Entrez client against the fake E-utilities server."""

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reviewapp.integrations.entrez import PubMedClient, RateLimiter
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Record, Search
from reviewapp.literature.searches import search_create, search_rerun, search_retry, search_run
from tests.conftest import membership_of
from tests.fake_eutils import Fault, spread


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


def _queued(review, owner, query="natalizumab", **dates):
    return search_create(membership=membership_of(owner, review), query=query, **dates)


def test_a_search_stores_its_count_translation_and_records(review, owner, fake_eutils, client_for):
    fake_eutils.script_search(
        "natalizumab", spread(120, date(2010, 1, 1), date(2019, 12, 31)), translation="nat[All]"
    )
    search = search_run(search_id=_queued(review, owner).pk, client=client_for())
    assert search.status == JobStatus.DONE
    assert (search.count_reported, search.count_retrieved, search.count_new) == (120, 120, 120)
    assert search.query_translation == "nat[All]"
    assert search.shortfall == 0
    assert Record.objects.filter(search=search).count() == 120
    assert Record.objects.filter(search=search).exclude(pmid="").count() == 120
    # Each record points into the reply PubMed sent, which is kept as it came.
    from django.core.files.storage import default_storage

    record = Record.objects.filter(search=search).order_by("source_position").first()
    reply = default_storage.open(record.raw["reply"]).read()
    assert f'<PMID Version="1">{record.pmid}</PMID>'.encode() in reply


def test_a_search_over_the_per_query_ceiling_is_split_by_date_and_retrieved_whole(
    review, owner, fake_eutils, client_for
):
    # The ceiling is lowered from PubMed's 9,999 so the test stays small; the split logic is the same
    # (tests/integrations/test_entrez.py runs it with 25,000 hits against the real ceiling).
    fake_eutils.script_search("natalizumab", spread(450, date(2012, 1, 1), date(2015, 12, 31)))
    search = search_run(
        search_id=_queued(review, owner, mindate="2012", maxdate="2015").pk,
        client=client_for(max_records_per_query=100),
    )
    assert search.status == JobStatus.DONE
    assert search.provenance["split_by_date"] is True
    parts = search.provenance["parts"]
    assert len(parts) > 1 and all(part["count"] <= 100 for part in parts)
    assert sum(part["count"] for part in parts) == 450
    assert search.count_retrieved == 450
    assert Record.objects.filter(search=search).values("pmid").distinct().count() == 450


def test_a_rerun_adds_only_records_the_search_has_not_brought_before(
    review, owner, fake_eutils, client_for
):
    fake_eutils.script_search("natalizumab", spread(60, date(2015, 1, 1), date(2015, 1, 30)))
    first = search_run(search_id=_queued(review, owner).pk, client=client_for())
    # A month later PubMed has indexed 25 more records for the same query.
    grown = {**spread(60, date(2015, 1, 1), date(2015, 1, 30)), date(2015, 2, 15): 25}
    fake_eutils.script_search("natalizumab", grown)
    rerun = search_rerun(membership=membership_of(owner, review), search=first)
    rerun = search_run(search_id=rerun.pk, client=client_for())
    assert rerun.pk != first.pk and rerun.rerun_of_id == first.pk
    assert (rerun.count_reported, rerun.count_retrieved, rerun.count_new) == (85, 85, 25)
    assert Record.objects.filter(review=review).count() == 85


def test_a_failed_batch_stores_nothing_names_the_batch_and_can_run_again(
    review, owner, fake_eutils, client_for
):
    fake_eutils.script_search("natalizumab", spread(1200, date(2010, 1, 1), date(2012, 12, 31)))
    # Batch 2 fails on both of the first run's tries, then the server recovers.
    fake_eutils.inject(Fault.http(500), on=2, utility="efetch", times=2)
    queued = _queued(review, owner)
    failed = search_run(search_id=queued.pk, client=client_for(max_tries=2))
    assert failed.status == JobStatus.FAILED
    assert "nothing was added" in failed.error
    assert "batch 2" in failed.error_detail
    assert not Record.objects.filter(review=review).exists()

    search_retry(membership=membership_of(owner, review), search=failed)
    done = search_run(search_id=queued.pk, client=client_for())
    assert done.status == JobStatus.DONE
    assert Record.objects.filter(search=done).count() == 1200


def test_a_truncated_reply_fails_loudly(review, owner, fake_eutils, client_for):
    fake_eutils.script_search("natalizumab", spread(30, date(2010, 1, 1), date(2010, 1, 30)))
    fake_eutils.inject(Fault.truncated(), on=1, utility="efetch")
    search = search_run(search_id=_queued(review, owner).pk, client=client_for())
    assert search.status == JobStatus.FAILED
    assert (
        search.error
        == "PubMed's answer arrived incomplete or garbled; nothing was added. Run it again later."
    )
    assert "batch 1" in search.error_detail
    assert not Record.objects.exists()


def test_running_a_search_twice_does_the_work_once(review, owner, fake_eutils, client_for):
    fake_eutils.script_search("natalizumab", spread(10, date(2010, 1, 1), date(2010, 1, 10)))
    queued = _queued(review, owner)
    search_run(search_id=queued.pk, client=client_for())
    again = search_run(search_id=queued.pk, client=client_for())
    assert again.status == JobStatus.DONE
    assert Record.objects.count() == 10
    assert len(fake_eutils.requests_to("esearch")) == 1


def test_a_malformed_date_is_refused_with_the_field_named(review, owner):
    from reviewapp.core.errors import ServiceError

    with pytest.raises(ServiceError, match="mindate '2019-13' is not a date") as caught:
        _queued(review, owner, mindate="2019-13")
    assert caught.value.field == "mindate"
    assert not Search.objects.exists()


def test_the_pubmed_search_command_prints_json(review, owner, fake_eutils, settings):
    settings.ENTREZ_BASE_URL = fake_eutils.base_url
    fake_eutils.script_search("natalizumab", spread(15, date(2018, 1, 1), date(2018, 1, 15)))
    out, err = StringIO(), StringIO()
    call_command(
        "pubmed_search",
        review.slug,
        "natalizumab",
        "--mindate",
        "2018/01/01",
        "--maxdate",
        "2018/12/31",
        "--json",
        stdout=out,
        stderr=err,
    )
    result = json.loads(out.getvalue())
    assert result["status"] == "done"
    assert (result["count_reported"], result["count_retrieved"], result["shortfall"]) == (15, 15, 0)
    assert "fetched 15 of 15" in err.getvalue()


def test_the_pubmed_search_command_fails_with_the_reason(review, owner, fake_eutils, settings):
    settings.ENTREZ_BASE_URL = fake_eutils.base_url
    fake_eutils.script_search("natalizumab", spread(15, date(2018, 1, 1), date(2018, 1, 15)))
    fake_eutils.inject(Fault.html(), on=1, utility="efetch")
    with pytest.raises(CommandError, match="batch 1"):
        call_command(
            "pubmed_search", review.slug, "natalizumab", stdout=StringIO(), stderr=StringIO()
        )


def test_a_search_and_its_rerun_build_the_screening_rows_of_their_records(
    review, owner, fake_eutils, client_for
):
    from reviewapp.screening.constants import Stage
    from reviewapp.screening.models import NewRecords, RecordStageState

    fake_eutils.script_search("natalizumab", spread(40, date(2015, 1, 1), date(2015, 1, 30)))
    first = search_run(search_id=_queued(review, owner).pk, client=client_for())
    grown = {**spread(40, date(2015, 1, 1), date(2015, 1, 30)), date(2015, 2, 15): 15}
    fake_eutils.script_search("natalizumab", grown)
    rerun = search_rerun(membership=membership_of(owner, review), search=first)
    search_run(search_id=rerun.pk, client=client_for())
    rows = RecordStageState.objects.filter(review=review, stage=Stage.TITLE_ABSTRACT)
    assert sorted(rows.values_list("record_id", flat=True)) == sorted(
        Record.objects.filter(review=review).values_list("id", flat=True)
    )
    assert rows.count() == 55
    # The trigger's notes of the new records went with the import: nothing left to build.
    assert not NewRecords.objects.filter(review=review).exists()
