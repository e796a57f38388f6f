"""PubMedClient against the fake E-utilities server, through the real Bio.Entrez request code.

Expected values are read from the recorded replies with lxml (independently of Biopython) or from
the fake's scripted counts, never typed in. Sleeps are injected and recorded, so backoff costs no
time; the one real-time test checks the rate limiter's spacing with a generous bound.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, timedelta

import pytest
from Bio import Entrez
from lxml import etree

from reviewapp.integrations.entrez import (
    EARLIEST_PUBLICATION_DATE,
    INTERVAL_WITH_KEY,
    INTERVAL_WITHOUT_KEY,
    EntrezLimitError,
    EntrezReplyError,
    EntrezRequestError,
    PubMedClient,
    RateLimiter,
    shared_rate_limiter,
)
from tests.fake_eutils import (
    Fault,
    fake_eutils_fixture,  # noqa: F401 (provides the fake_eutils fixture)
    fixture_bytes,
    spread,
)

EMAIL = "screening-team@example.org"
API_KEY = "test-api-key"
BACKOFF = 0.5
MAX_TRIES = 4

BIO_ENTREZ_GLOBALS = ("email", "tool", "api_key", "max_tries", "sleep_between_tries")


@pytest.fixture(autouse=True)
def bio_entrez_state():
    """Snapshot Bio.Entrez's module globals and restore them, so no test leaks state to another.

    The client is meant to change none of them; ``test_client_leaves_bio_entrez_globals_alone``
    checks that, and this fixture keeps a failure there from spreading.
    """
    saved = {name: getattr(Entrez, name) for name in BIO_ENTREZ_GLOBALS}
    saved_previous = Entrez._open.previous
    yield saved
    for name, value in saved.items():
        setattr(Entrez, name, value)
    Entrez._open.previous = saved_previous


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(fake_eutils, sleeps):
    """Build a client on the fake server that records its sleeps instead of sleeping."""

    def make(**overrides) -> PubMedClient:
        options = {
            "email": EMAIL,
            "api_key": API_KEY,
            "base_url": fake_eutils.base_url,
            "max_tries": MAX_TRIES,
            "backoff": BACKOFF,
            "timeout": 5.0,
            "sleep": sleeps.append,
            # A limiter of its own, so that recorded (not slept) waits delay no other test.
            "rate_limiter": RateLimiter(0),
        }
        options.update(overrides)
        return PubMedClient(**options)

    return make


def recorded(name: str) -> etree._Element:
    return etree.fromstring(fixture_bytes(name))


def pmids(xml: bytes) -> list[str]:
    return etree.fromstring(xml).xpath(
        "/PubmedArticleSet/PubmedArticle/MedlineCitation/PMID/text()"
    )


# -- esearch ------------------------------------------------------------------------------------


def test_search_reads_count_history_and_translation_from_esearch2(fake_eutils, make_client):
    fake_eutils.replay_search("cancer", "esearch2.xml")
    expected = recorded("esearch2.xml")

    result = make_client().search("cancer")

    assert result.count == int(expected.findtext("Count"))
    assert result.webenv == expected.findtext("WebEnv")
    assert result.query_key == expected.findtext("QueryKey")
    assert result.query_translation == expected.findtext("QueryTranslation")
    assert result.errors == {}
    assert result.warnings == {}


def test_search_sends_history_tool_email_and_api_key(fake_eutils, make_client):
    fake_eutils.replay_search("cancer", "esearch2.xml")

    make_client().search("cancer")

    (request,) = fake_eutils.requests_to("esearch")
    assert request.params["db"] == "pubmed"
    assert request.params["term"] == "cancer"
    assert request.params["usehistory"] == "y"
    assert request.params["tool"] == "reviewapp"
    assert request.params["email"] == EMAIL
    assert request.params["api_key"] == API_KEY


def test_search_without_api_key_sends_none(fake_eutils, make_client):
    fake_eutils.replay_search("cancer", "esearch2.xml")

    make_client(api_key="").search("cancer")

    (request,) = fake_eutils.requests_to("esearch")
    assert "api_key" not in request.params
    assert request.params["email"] == EMAIL


def test_zero_hits_return_the_error_and_warning_lists(fake_eutils, make_client):
    fake_eutils.replay_search("abcXYZ", "esearch8.xml")
    expected = recorded("esearch8.xml")
    client = make_client()

    result = client.search("abcXYZ")

    assert result.count == int(expected.findtext("Count")) == 0
    assert result.errors == {
        child.tag: [child.text] for child in expected.find("ErrorList") if child.text
    }
    assert result.warnings == {
        child.tag: [child.text] for child in expected.find("WarningList") if child.text
    }
    assert result.query_translation == expected.findtext("QueryTranslation")
    assert list(client.fetch_batches(result)) == []
    assert fake_eutils.requests_to("efetch") == []


def test_search_sends_date_limits_with_partial_dates_completed(fake_eutils, make_client):
    fake_eutils.script_search("asthma", spread(40, date(2001, 1, 1), date(2003, 12, 31)))

    result = make_client().search("asthma", mindate="2001", maxdate="2002/02", datetype="edat")

    (request,) = fake_eutils.requests_to("esearch")
    assert (request.params["mindate"], request.params["maxdate"]) == ("2001/01/01", "2002/02/28")
    assert request.params["datetype"] == "edat"
    assert (result.mindate, result.maxdate) == (date(2001, 1, 1), date(2002, 2, 28))
    assert result.count == fake_eutils.count_between("asthma", result.mindate, result.maxdate)


def test_a_lone_mindate_gets_a_maxdate_because_ncbi_ignores_one_bound(fake_eutils, make_client):
    fake_eutils.script_search("asthma", spread(40, date(2001, 1, 1), date(2003, 12, 31)))

    make_client().search("asthma", mindate="2002")

    (request,) = fake_eutils.requests_to("esearch")
    assert request.params["mindate"] == "2002/01/01"
    assert request.params["maxdate"] == f"{date.today().year + 1}/12/31"


def test_a_long_query_is_posted_and_still_understood(fake_eutils, make_client):
    # Biopython switches to POST past 1,000 characters of parameters; the fake must follow.
    term = " OR ".join(f"term{number}[tiab]" for number in range(120))
    fake_eutils.script_search(term, spread(12, date(2010, 1, 1), date(2010, 1, 12)))

    result = make_client().search(term)

    (request,) = fake_eutils.requests_to("esearch")
    assert request.method == "POST"
    assert request.params["term"] == term
    assert result.count == fake_eutils.count_between(term, date(2010, 1, 1), date(2010, 1, 12))


# -- efetch in batches --------------------------------------------------------------------------


def test_fetch_in_batches_returns_every_article_once(fake_eutils, make_client):
    total = 234
    fake_eutils.script_search("stroke", spread(total, date(2015, 1, 1), date(2015, 12, 31)))
    client = make_client()
    result = client.search("stroke")
    progress: list[tuple[int, int]] = []

    batches = list(
        client.fetch_batches(result, batch_size=100, progress=lambda *a: progress.append(a))
    )

    assert [(b.batch_index, b.retstart) for b in batches] == [(1, 0), (2, 100), (3, 200)]
    assert [b.n_articles for b in batches] == [100, 100, total - 200]
    assert [len(pmids(b.xml)) for b in batches] == [b.n_articles for b in batches]
    all_pmids = [pmid for b in batches for pmid in pmids(b.xml)]
    assert len(all_pmids) == len(set(all_pmids)) == total
    assert progress == [(100, total), (200, total), (total, total)]
    requests = fake_eutils.requests_to("efetch")
    assert [(r.params["retstart"], r.params["retmax"]) for r in requests] == [
        ("0", "100"),
        ("100", "100"),
        ("200", "100"),
    ]
    for request in requests:
        assert request.params["WebEnv"] == result.webenv
        assert request.params["query_key"] == result.query_key
        assert request.params["retmode"] == "xml"
        assert "rettype" not in request.params
        assert request.params["api_key"] == API_KEY


def test_fetch_resumes_from_start_with_the_same_batch_numbers(fake_eutils, make_client):
    fake_eutils.script_search("stroke", spread(250, date(2015, 1, 1), date(2015, 3, 31)))
    client = make_client()
    result = client.search("stroke")

    batches = list(client.fetch_batches(result, batch_size=100, start=100))

    assert [(b.batch_index, b.retstart, b.n_articles) for b in batches] == [
        (2, 100, 100),
        (3, 200, 50),
    ]


def test_fetch_refuses_a_search_above_the_ceiling(fake_eutils, make_client):
    fake_eutils.replay_search("cancer", "esearch2.xml")
    client = make_client(max_records_per_query=9_999)
    result = client.search("cancer")

    with pytest.raises(EntrezLimitError, match="plan_search"):
        next(client.fetch_batches(result))

    assert fake_eutils.requests_to("efetch") == []


# -- retries ------------------------------------------------------------------------------------


def test_429_and_500_are_retried_with_backoff_then_succeed(fake_eutils, make_client, sleeps):
    fake_eutils.script_search("stroke", spread(30, date(2015, 1, 1), date(2015, 1, 30)))
    retry_after = 7
    fake_eutils.inject(Fault.http(429, retry_after=retry_after), utility="efetch", on=1)
    fake_eutils.inject(Fault.http(500), utility="efetch", on=2)
    client = make_client()
    result = client.search("stroke")

    (batch,) = client.fetch_batches(result, batch_size=50)

    assert batch.n_articles == result.count
    assert [r.fault for r in fake_eutils.requests_to("efetch")] == ["HTTP 429", "HTTP 500", None]
    # First wait: Retry-After beats the first backoff step; second: the doubled backoff.
    assert sleeps == [max(BACKOFF, retry_after), BACKOFF * 2]


def test_503_on_esearch_is_retried(fake_eutils, make_client, sleeps):
    fake_eutils.replay_search("cancer", "esearch2.xml")
    fake_eutils.inject(Fault.http(503), utility="esearch", times=2)

    result = make_client().search("cancer")

    assert result.count == int(recorded("esearch2.xml").findtext("Count"))
    assert len(fake_eutils.requests_to("esearch")) == 3
    assert sleeps == [BACKOFF, BACKOFF * 2]


def test_gives_up_after_max_tries_naming_the_batch(fake_eutils, make_client, sleeps):
    fake_eutils.script_search("stroke", spread(1600, date(2015, 1, 1), date(2015, 12, 31)))
    fake_eutils.inject(Fault.http(500), utility="efetch", on=3, times=MAX_TRIES)
    client = make_client()
    result = client.search("stroke")
    delivered = []

    with pytest.raises(EntrezRequestError) as caught:
        for batch in client.fetch_batches(result, batch_size=500):
            delivered.append(batch.batch_index)

    assert str(caught.value) == (
        f"efetch batch 3 (records 1001-1500) failed after {MAX_TRIES} tries: HTTP 500"
    )
    assert (caught.value.tries, caught.value.status) == (MAX_TRIES, 500)
    assert delivered == [1, 2]
    assert len(fake_eutils.requests_to("efetch")) == 2 + MAX_TRIES
    assert sleeps == [BACKOFF * 2**attempt for attempt in range(MAX_TRIES - 1)]


def test_a_client_error_is_not_retried(fake_eutils, make_client, sleeps):
    # The fake answers HTTP 400 for a term no test scripted.
    with pytest.raises(EntrezRequestError, match=r"HTTP 400 \(not retried\)") as caught:
        make_client().search("nobody scripted this")

    assert caught.value.tries == 1
    assert len(fake_eutils.requests) == 1
    assert sleeps == []


def test_a_slow_reply_times_out_and_is_retried(fake_eutils, make_client, sleeps):
    fake_eutils.script_search("stroke", spread(20, date(2015, 1, 1), date(2015, 1, 20)))
    client = make_client(timeout=0.2)
    result = client.search("stroke")
    fake_eutils.inject(Fault.slow(5.0), utility="efetch")

    (batch,) = client.fetch_batches(result, batch_size=50)

    assert batch.n_articles == result.count
    assert [r.fault for r in fake_eutils.requests_to("efetch")] == ["slow 5.0s", None]
    assert sleeps == [BACKOFF]


def test_replies_slow_on_every_try_give_up_with_the_timeout_named(fake_eutils, make_client):
    fake_eutils.script_search("stroke", spread(20, date(2015, 1, 1), date(2015, 1, 20)))
    client = make_client(timeout=0.2, max_tries=2)
    result = client.search("stroke")
    fake_eutils.inject(Fault.slow(5.0), utility="efetch", times=2)

    with pytest.raises(EntrezRequestError) as caught:
        list(client.fetch_batches(result, batch_size=50))

    assert str(caught.value) == (
        "efetch batch 1 (records 1-20) failed after 2 tries: timed out after 0.2 s"
    )


def test_a_dropped_connection_is_retried(fake_eutils, make_client, sleeps):
    fake_eutils.script_search("stroke", spread(20, date(2015, 1, 1), date(2015, 1, 20)))
    fake_eutils.inject(Fault.dropped_connection(), utility="esearch")

    result = make_client().search("stroke")

    assert result.count == fake_eutils.count_between("stroke", date(2015, 1, 1), date(2015, 1, 20))
    assert len(fake_eutils.requests_to("esearch")) == 2
    assert sleeps == [BACKOFF]


# -- malformed replies ----------------------------------------------------------------------------


def test_a_cut_off_efetch_reply_fails_naming_the_batch(fake_eutils, make_client):
    fake_eutils.script_search("stroke", spread(900, date(2015, 1, 1), date(2015, 12, 31)))
    fake_eutils.inject(Fault.truncated(0.5), utility="efetch", on=2)
    client = make_client()
    result = client.search("stroke")

    with pytest.raises(
        EntrezReplyError, match=r"^efetch batch 2 \(records 501-900\): .*not complete XML"
    ):
        list(client.fetch_batches(result, batch_size=500))

    # A broken body is not a network fault: failing at once keeps it visible.
    assert len(fake_eutils.requests_to("efetch")) == 2


def test_the_truncated_einfo4_reply_fails_the_search(fake_eutils, make_client):
    fake_eutils.replay_search("cancer", "esearch2.xml")
    fake_eutils.inject(Fault.replay("einfo4.xml"), utility="esearch")

    with pytest.raises(EntrezReplyError, match=r"^esearch 'cancer': the reply is not complete XML"):
        make_client().search("cancer")


def test_an_html_page_fails_naming_the_batch(fake_eutils, make_client):
    fake_eutils.script_search("stroke", spread(20, date(2015, 1, 1), date(2015, 1, 20)))
    fake_eutils.inject(Fault.html(), utility="efetch")
    client = make_client()
    result = client.search("stroke")

    with pytest.raises(EntrezReplyError, match=r"^efetch batch 1 \(records 1-20\): .*<html>"):
        list(client.fetch_batches(result, batch_size=50))


def test_an_error_reply_fails_with_ncbis_message(fake_eutils, make_client):
    fake_eutils.script_search("stroke", spread(20, date(2015, 1, 1), date(2015, 1, 20)))
    fake_eutils.inject(Fault.error_reply(), utility="efetch")
    ncbi_message = recorded("epost2.xml").findtext("ERROR")
    client = make_client()
    result = client.search("stroke")

    with pytest.raises(EntrezReplyError) as caught:
        list(client.fetch_batches(result, batch_size=50))

    assert str(caught.value).startswith("efetch batch 1 (records 1-20): NCBI replied with an error")
    assert ncbi_message in str(caught.value)


def test_a_short_batch_that_is_not_the_last_fails(fake_eutils, make_client):
    fake_eutils.script_search("stroke", spread(250, date(2015, 1, 1), date(2015, 6, 30)))
    fake_eutils.inject(Fault.fewer_articles(3), utility="efetch", on=2)
    client = make_client()
    result = client.search("stroke")

    with pytest.raises(EntrezReplyError) as caught:
        list(client.fetch_batches(result, batch_size=100))

    assert str(caught.value) == (
        "efetch batch 2 (records 101-200): the reply holds 97 articles, expected 100."
    )


def test_a_short_last_batch_is_delivered_and_logged(fake_eutils, make_client, caplog):
    fake_eutils.script_search("stroke", spread(250, date(2015, 1, 1), date(2015, 6, 30)))
    fake_eutils.inject(Fault.fewer_articles(2), utility="efetch", on=3)
    client = make_client()
    result = client.search("stroke")

    with caplog.at_level(logging.WARNING, logger="reviewapp.integrations.entrez"):
        batches = list(client.fetch_batches(result, batch_size=100))

    assert [b.n_articles for b in batches] == [100, 100, 48]
    assert sum(b.n_articles for b in batches) == result.count - 2
    assert "efetch batch 3 (records 201-250): the last batch holds 48 articles" in caplog.text


# -- the 9,999-record ceiling -------------------------------------------------------------------


def assert_plan_covers(plan, first: date, last: date, limit: int) -> None:
    assert plan.parts[0].mindate == first
    assert plan.parts[-1].maxdate == last
    for before, after in zip(plan.parts, plan.parts[1:], strict=False):
        assert after.mindate == before.maxdate + timedelta(days=1)
    assert all(part.count <= limit for part in plan.parts)


def test_a_large_search_is_split_into_date_ranges_that_add_up(fake_eutils, make_client):
    first, last = date(2000, 1, 1), date(2009, 12, 31)
    fake_eutils.script_search("big", spread(25_000, first, last))
    client = make_client()

    plan = client.plan_search("big", mindate="2000", maxdate="2009")

    assert plan.split
    assert plan.count == fake_eutils.count_between("big", first, last)
    assert_plan_covers(plan, first, last, client.max_records_per_query)
    for mindate, maxdate, count in plan.ranges:
        assert count == fake_eutils.count_between("big", mindate, maxdate)
    assert plan.parts_total == plan.count
    assert plan.shortfall == 0
    assert len({(part.webenv, part.query_key) for part in plan.parts}) == len(plan.parts)


def test_an_undated_large_search_is_split_over_the_default_range(fake_eutils, make_client):
    fake_eutils.script_search("big", spread(25_000, date(2000, 1, 1), date(2009, 12, 31)))
    client = make_client()

    plan = client.plan_search("big")

    assert_plan_covers(
        plan,
        EARLIEST_PUBLICATION_DATE,
        date(date.today().year + 1, 12, 31),
        client.max_records_per_query,
    )
    assert plan.parts_total == plan.count
    # The unsplit search carries no dates; every split search carries both.
    esearches = fake_eutils.requests_to("esearch")
    assert "mindate" not in esearches[0].params
    assert all({"mindate", "maxdate", "datetype"} <= r.params.keys() for r in esearches[1:])


def test_a_shortfall_between_parts_and_count_is_reported(fake_eutils, make_client, caplog):
    per_day = spread(25_000, date(2000, 1, 1), date(2009, 12, 31))
    before_range = EARLIEST_PUBLICATION_DATE - timedelta(days=1)
    per_day[before_range] = 5
    fake_eutils.script_search("big", per_day)

    with caplog.at_level(logging.WARNING, logger="reviewapp.integrations.entrez"):
        plan = make_client().plan_search("big")

    assert plan.count == sum(per_day.values())
    assert plan.shortfall == per_day[before_range]
    assert f"shortfall {per_day[before_range]}" in caplog.text


def test_a_single_day_over_the_ceiling_fails_loudly(fake_eutils, make_client):
    crowded = date(2005, 6, 1)
    per_day = spread(3_000, date(2005, 1, 1), date(2005, 12, 31))
    per_day[crowded] = 12_000
    fake_eutils.script_search("big", per_day)
    client = make_client()

    with pytest.raises(EntrezLimitError) as caught:
        client.plan_search("big", mindate="2005", maxdate="2005")

    message = str(caught.value)
    assert f"{per_day[crowded]} records with pdat 2005/06/01" in message
    assert "single day cannot be split" in message


def test_a_server_ignoring_the_dates_stops_the_split_at_once(fake_eutils, make_client):
    # esearch2.xml's 42,249 hits replay for every range, as if NCBI dropped the date limits.
    fake_eutils.replay_search("cancer", "esearch2.xml")

    with pytest.raises(EntrezReplyError, match="date limits are not being applied"):
        make_client().plan_search("cancer")

    # The undated search, the whole default range, and its two halves: no runaway halving.
    assert len(fake_eutils.requests_to("esearch")) == 4


def test_a_small_search_is_a_plan_of_one_undated_part(fake_eutils, make_client):
    fake_eutils.script_search("rare", spread(63, date(2019, 1, 1), date(2019, 3, 4)))

    plan = make_client().plan_search("rare")

    assert not plan.split
    assert plan.ranges == [(None, None, plan.count)]
    assert plan.shortfall == 0
    assert len(fake_eutils.requests_to("esearch")) == 1


def test_fetch_plan_retrieves_every_record_of_every_part_once(fake_eutils, make_client):
    # A lowered ceiling (client and fake alike) exercises split + fetch with few articles.
    limit = 300
    fake_eutils.max_retrievable = limit
    fake_eutils.script_search("big", spread(1_000, date(2012, 1, 1), date(2012, 1, 31)))
    client = make_client(max_records_per_query=limit)
    plan = client.plan_search("big", mindate="2012/01", maxdate="2012/01")
    progress: list[tuple[int, int]] = []

    fetched = list(client.fetch_plan(plan, batch_size=100, progress=lambda *a: progress.append(a)))

    all_pmids = [pmid for _, batch in fetched for pmid in pmids(batch.xml)]
    assert len(all_pmids) == len(set(all_pmids)) == plan.count
    assert sorted({part_index for part_index, _ in fetched}) == list(range(len(plan.parts)))
    assert all(int(r.params["retstart"]) < limit for r in fake_eutils.requests_to("efetch"))
    assert progress[-1] == (plan.count, plan.parts_total)


def test_the_fake_refuses_retstart_beyond_its_ceiling_like_pubmed(fake_eutils, make_client):
    # Guards the fake itself: a client that ignored the ceiling would get an ERROR reply.
    fake_eutils.max_retrievable = 100
    fake_eutils.script_search("stroke", spread(250, date(2015, 1, 1), date(2015, 6, 30)))
    client = make_client()
    result = client.search("stroke")

    with pytest.raises(EntrezReplyError, match=r"^efetch batch 2 \(records 101-200\): NCBI"):
        list(client.fetch_batches(result, batch_size=100))


# -- rate limit and module state ----------------------------------------------------------------


def test_shared_limiters_follow_ncbi_rates_per_api_key():
    assert shared_rate_limiter(None).interval == INTERVAL_WITHOUT_KEY
    assert shared_rate_limiter("key-a").interval == INTERVAL_WITH_KEY
    assert shared_rate_limiter("key-a") is shared_rate_limiter("key-a")
    assert shared_rate_limiter("key-a") is not shared_rate_limiter("key-b")
    # 3 and 10 requests a second are ceilings, not targets.
    assert INTERVAL_WITHOUT_KEY >= 1 / 3 and INTERVAL_WITH_KEY >= 1 / 10


def test_rate_limiter_gives_concurrent_callers_distinct_spaced_slots():
    interval = 0.5
    limiter = RateLimiter(interval, clock=lambda: 100.0)
    waits: list[float] = []
    lock = threading.Lock()

    def reserve() -> None:
        wait = limiter.reserve()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=reserve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(waits) == [pytest.approx(index * interval) for index in range(20)]


def test_requests_to_the_server_are_spaced_by_the_rate_limit(fake_eutils, make_client):
    fake_eutils.script_search("stroke", spread(20, date(2015, 1, 1), date(2015, 1, 20)))
    client = make_client(sleep=time.sleep, rate_limiter=RateLimiter(INTERVAL_WITH_KEY))
    searches = 5

    for _ in range(searches):
        client.search("stroke")

    arrivals = [request.received_at for request in fake_eutils.requests]
    assert len(arrivals) == searches
    # Slots are at least an interval apart; allow for scheduling jitter on arrival.
    assert arrivals[-1] - arrivals[0] >= (searches - 1) * INTERVAL_WITH_KEY - 0.1


def test_client_leaves_bio_entrez_globals_alone(fake_eutils, make_client, bio_entrez_state):
    fake_eutils.script_search("stroke", spread(20, date(2015, 1, 1), date(2015, 1, 20)))
    client = make_client()

    list(client.fetch_batches(client.search("stroke"), batch_size=10))

    assert {name: getattr(Entrez, name) for name in bio_entrez_state} == bio_entrez_state
    assert Entrez.tool != "reviewapp"
    assert fake_eutils.requests[-1].params["tool"] == "reviewapp"


def test_an_email_is_required():
    with pytest.raises(ValueError, match="email"):
        PubMedClient("", None, "http://127.0.0.1:9/")
