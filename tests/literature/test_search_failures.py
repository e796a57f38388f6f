"""The sentence a reviewer reads when a PubMed search fails, from the client's real errors."""

import http.client
import socket
from datetime import UTC, datetime
from urllib.error import HTTPError, URLError

import pytest

from reviewapp.integrations.entrez import (
    EntrezLimitError,
    EntrezReplyError,
    EntrezRequestError,
    PubMedClient,
    RateLimiter,
)
from reviewapp.literature.parsers import FileUnreadable
from reviewapp.literature.search_failures import search_failure_explain, search_failure_message
from tests.fake_eutils import Fault

AT = datetime(2026, 12, 7, 14, 5, tzinfo=UTC)


def _request_error(cause: BaseException, status=None) -> EntrezRequestError:
    try:
        raise EntrezRequestError(
            "esearch 'x' failed after 2 tries: …", tries=2, status=status
        ) from cause
    except EntrezRequestError as exc:
        return exc


@pytest.mark.parametrize(
    ("cause", "kind", "sentence"),
    [
        (
            URLError(socket.gaierror(-2, "Name or service not known")),
            "unreachable",
            "PubMed could not be reached (its address could not be looked up)",
        ),
        (
            URLError(ConnectionRefusedError(111, "refused")),
            "unreachable",
            "PubMed could not be reached",
        ),
        (http.client.RemoteDisconnected("closed"), "unreachable", "PubMed could not be reached"),
        (URLError(TimeoutError("timed out")), "timeout", "PubMed did not answer in time"),
        (TimeoutError("timed out"), "timeout", "PubMed did not answer in time"),
    ],
)
def test_network_failures_read_as_plain_sentences_and_are_retried(cause, kind, sentence):
    failure = search_failure_explain(_request_error(cause))
    assert (failure.kind, failure.transient, failure.sentence) == (kind, True, sentence)
    assert failure.detail.startswith("esearch 'x' failed")


def test_the_message_while_a_retry_waits_says_when_and_offers_to_run_it_now():
    failure = search_failure_explain(_request_error(URLError(socket.gaierror(-2, "x"))))
    assert search_failure_message(failure, retry_at=AT) == (
        "PubMed could not be reached (its address could not be looked up); the search will be "
        "retried at 14:05 UTC, or you can run it again now."
    )
    assert "gaierror" not in search_failure_message(failure, retry_at=AT)


def test_the_message_once_the_retries_are_used_up():
    failure = search_failure_explain(_request_error(URLError(TimeoutError())))
    assert search_failure_message(failure, tries=4) == (
        "PubMed did not answer in time; tried 4 times, nothing was added. Run it again later."
    )


@pytest.mark.parametrize(
    ("status", "kind", "transient", "sentence"),
    [
        (429, "busy", True, "PubMed asked us to slow down (too many requests)"),
        (500, "server", True, "PubMed's servers answered with an error (HTTP 500)"),
        (503, "server", True, "PubMed's servers answered with an error (HTTP 503)"),
        (
            400,
            "refused",
            False,
            "PubMed refused the request (HTTP 400); the query may need changing",
        ),
    ],
)
def test_http_errors(status, kind, transient, sentence):
    cause = HTTPError("http://x", status, "err", {}, None)
    failure = search_failure_explain(_request_error(cause, status=status))
    assert (failure.kind, failure.transient, failure.sentence) == (kind, transient, sentence)


def test_an_ncbi_error_reply_is_quoted_and_retried_only_when_ncbi_is_busy():
    busy = search_failure_explain(
        EntrezReplyError("efetch batch 1: NCBI replied with an error: Search Backend failed")
    )
    assert (
        busy.transient and busy.sentence == "PubMed answered with an error: “Search Backend failed”"
    )
    bad = search_failure_explain(
        EntrezReplyError("esearch 'x': NCBI replied with an error: Invalid query syntax")
    )
    assert not bad.transient
    assert search_failure_message(bad) == (
        "PubMed answered with an error: “Invalid query syntax”; nothing was added. "
        "Check the query, then run it again."
    )


def test_other_failures():
    garbled = search_failure_explain(
        EntrezReplyError("efetch batch 2: the reply is not complete XML")
    )
    assert (garbled.kind, garbled.transient) == ("reply", True)
    limit = search_failure_explain(EntrezLimitError("2020/01/01 alone holds 12,000 records"))
    assert (limit.kind, limit.transient) == ("limit", False)
    assert search_failure_message(limit).endswith(
        "Narrow the query or its dates; nothing was added."
    )
    unreadable = search_failure_explain(FileUnreadable("no PubmedArticleSet"))
    assert (unreadable.kind, unreadable.transient) == ("reply", False)
    internal = search_failure_explain(KeyError("boom"))
    assert (internal.kind, internal.transient) == ("internal", False)
    assert internal.detail == "KeyError: 'boom'"


def _client(base_url, **options):
    return PubMedClient(
        email="tests@example.org",
        base_url=base_url,
        sleep=lambda seconds: None,
        rate_limiter=RateLimiter(0),
        timeout=0.5,
        max_tries=2,
        **options,
    )


def _failure_of(client):
    with pytest.raises(Exception) as caught:
        client.plan_search("natalizumab")
    return search_failure_explain(caught.value)


def test_the_real_client_against_an_unreachable_host():
    failure = _failure_of(_client("http://pubmed.invalid/entrez/eutils/"))
    assert failure.kind == "unreachable" and failure.transient
    assert "gaierror" in failure.detail and "2 tries" in failure.detail


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault.http(429, retry_after=0), "busy"),
        (Fault.http(503), "server"),
        (Fault.slow(2.0), "timeout"),
        (Fault.dropped_connection(), "unreachable"),
        (Fault.error_reply(), "refused"),
        (Fault.html(), "reply"),
    ],
)
def test_the_real_client_against_the_fake_server(fake_eutils, fault, kind):
    fake_eutils.script_search("natalizumab", {datetime(2020, 1, 1).date(): 3})
    fake_eutils.inject(fault, on=1, utility="esearch", times=2)
    assert _failure_of(_client(fake_eutils.base_url)).kind == kind
