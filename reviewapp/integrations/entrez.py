"""PubMed through the NCBI E-utilities, wrapping Bio.Entrez.

This is the only module in the project that imports Bio.Entrez. It has no Django import: the caller
passes the settings (``ENTREZ_EMAIL``, ``ENTREZ_API_KEY``, ``ENTREZ_BASE_URL``) in.

What Biopython does here, and what it does not
----------------------------------------------
Biopython builds every request (``Bio.Entrez._build_request``: the tool/email/api_key parameters,
dropping unset values, GET or POST by length) and parses the esearch replies (``Bio.Entrez.read``).
It does not send them. ``Bio.Entrez._open`` calls ``urlopen`` without a timeout, so a stalled
reply would hang a worker for ever (the only cure there is the process-wide
``socket.setdefaulttimeout``); it retries with a fixed ``time.sleep(sleep_between_tries)`` (15 s)
that tests cannot replace; it reads ``max_tries`` from a module global shared by every thread; and
its rate limiter (``_open.previous``) is not thread-safe. Two retry loops stacked on each other would
also multiply the tries. So this module sends each request itself: with a timeout, after a
thread-safe rate limiter shared per API key, retrying network errors, HTTP 429 and 5xx with
exponential backoff through an injectable ``sleep``. ``Bio.Entrez.max_tries`` and
``Bio.Entrez.sleep_between_tries`` therefore never apply, and no Bio.Entrez module global is changed:
email, tool and api_key go with each request, where Biopython lets them override its globals.

Replies are checked before anyone trusts them: not XML, cut-off XML, an ``ERROR`` element, the wrong
root element, or a batch with fewer articles than asked for (other than the last) raise
``EntrezReplyError`` naming the operation and the batch. Those are not retried: a well-formed HTTP
reply carrying a broken body is not a transient network fault, and retrying it would hide it.

PubMed serves at most 9,999 records of one query (esearch and the history server alike).
``PubMedClient.plan_search`` splits a larger query into publication-date ranges, halving them until
each part fits, and reports any difference between the parts' total and the reported count.
"""

from __future__ import annotations

import http.client
import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from Bio import Entrez
from lxml import etree

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
TOOL = "reviewapp"

# PubMed answers "retstart cannot be larger than 9998" beyond this, for esearch and for efetch from
# the history server alike, so one query can deliver at most 9,999 records.
MAX_RECORDS_PER_QUERY = 9_999
# NCBI's ceiling for retmax on efetch.
MAX_BATCH_SIZE = 10_000

# Spacing between requests. NCBI allows 3 requests a second without an API key and 10 with one;
# Biopython found that exactly 1/3 s still drew 429s and settled on 0.37 s, and we keep the same
# margin for the keyed rate.
INTERVAL_WITHOUT_KEY = 0.37
INTERVAL_WITH_KEY = 0.11

# Backoff never waits longer than this between tries, even if a Retry-After header asks for more:
# a worker stuck for an hour looks the same as a hung one.
MAX_BACKOFF_SECONDS = 300.0

# Bounds for splitting a query that gives no dates. PubMed holds citations from the 18th century,
# and journals date issues ahead, so the range runs to the end of next year; any record outside it
# shows up as a shortfall of the plan rather than vanishing.
EARLIEST_PUBLICATION_DATE = date(1700, 1, 1)

ARTICLE_TAGS = ("PubmedArticle", "PubmedBookArticle")

_DATE_PATTERN = re.compile(r"^(\d{4})(?:[/-](\d{1,2})(?:[/-](\d{1,2}))?)?$")


class EntrezError(Exception):
    """Base of every error this module raises; the message names the operation and batch."""


class EntrezRequestError(EntrezError):
    """A request failed: a non-retryable HTTP error, or retryable failures on every try."""

    def __init__(self, message: str, *, tries: int, status: int | None = None):
        super().__init__(message)
        self.tries = tries
        self.status = status


class EntrezReplyError(EntrezError):
    """A reply arrived but cannot be trusted: not XML, cut off, an ERROR, or articles missing."""


class EntrezLimitError(EntrezError):
    """A query cannot be brought under PubMed's per-query ceiling (e.g. one day holds too many)."""


@dataclass(frozen=True)
class SearchResult:
    """One esearch run with usehistory=y: the count and where the history server keeps the hits."""

    query: str
    count: int
    webenv: str | None
    query_key: str | None
    query_translation: str
    datetype: str
    mindate: date | None = None
    maxdate: date | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        """A short description for messages: the query and its date range, if any."""
        return _scope(self.query, self.datetype, self.mindate, self.maxdate)


@dataclass(frozen=True)
class SearchPlan:
    """How a query is retrieved: the count PubMed reported and the parts that together cover it.

    ``parts`` are contiguous, non-overlapping date ranges in order, or a single part (undated if
    the query was) when ``count`` fits in one query; ``split`` says which. Record ``ranges`` with
    the search. ``shortfall`` is the reported count minus the parts' total: non-zero when records
    fall outside the split's date bounds or PubMed changed while the plan was made (negative if it
    grew). ``plan_search`` logs it; the caller should record and show it.
    """

    query: str
    datetype: str
    count: int
    parts: tuple[SearchResult, ...]
    split: bool

    @property
    def ranges(self) -> list[tuple[date | None, date | None, int]]:
        """The plan as (mindate, maxdate, count) rows, in date order."""
        return [(part.mindate, part.maxdate, part.count) for part in self.parts]

    @property
    def parts_total(self) -> int:
        """The number of records the parts will deliver together."""
        return sum(part.count for part in self.parts)

    @property
    def shortfall(self) -> int:
        """Reported count minus the parts' total; zero when the plan covers every record."""
        return self.count - self.parts_total


class FetchedBatch(NamedTuple):
    """One efetch reply: checked, well-formed PubmedArticleSet XML and how many articles it holds.

    ``batch_index`` is 1-based and follows from ``retstart`` (``retstart // batch_size + 1``), so a
    resumed fetch numbers its batches as the first run did.
    """

    batch_index: int
    retstart: int
    xml: bytes
    n_articles: int


ProgressCallback = Callable[[int, int], None]


class RateLimiter:
    """Spaces requests at least ``interval`` seconds apart, across threads.

    A caller reserves the next free slot under the lock and then sleeps outside it, so waiting
    threads queue in order without holding the lock, and an injected no-op sleep (tests) never
    blocks or spins.
    """

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic):
        if interval < 0:
            raise ValueError(f"interval must be >= 0, not {interval}")
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._next_slot = float("-inf")

    def reserve(self) -> float:
        """Claim the next slot and return how many seconds the caller must wait before sending."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
            return slot - now


_shared_limiters: dict[str | None, RateLimiter] = {}
_shared_limiters_lock = threading.Lock()


def shared_rate_limiter(api_key: str | None) -> RateLimiter:
    """The process-wide limiter for an API key (or for keyless use).

    NCBI counts requests per key, or per IP address without one, so every client in the process
    using the same key must queue behind the same limiter.
    """
    with _shared_limiters_lock:
        limiter = _shared_limiters.get(api_key)
        if limiter is None:
            limiter = RateLimiter(INTERVAL_WITH_KEY if api_key else INTERVAL_WITHOUT_KEY)
            _shared_limiters[api_key] = limiter
        return limiter


def _build_request(
    base_url: str, utility: str, params: dict[str, object], *, join_ids: bool = True
) -> Request:
    """Build the HTTP request for one E-utility at ``base_url`` with Biopython's parameter rules.

    Biopython 1.88 has no setting for the base URL: each public function (``Entrez.esearch``,
    ``Entrez.efetch``...) hard-codes ``https://eutils.ncbi.nlm.nih.gov/entrez/eutils/<utility>.fcgi``
    and then only calls ``Entrez._build_request(cgi, variables)``. Calling that helper with our own
    URL is the narrowest hook: it keeps Biopython's tool/email/api_key handling and its GET/POST
    choice without patching any module state. It is private, so a Biopython upgrade may move it;
    this is the one place to change, and the tests drive it against the fake server.
    """
    cgi = base_url.rstrip("/") + f"/{utility}.fcgi"
    return Entrez._build_request(cgi, params, join_ids=join_ids)


class PubMedClient:
    """Search PubMed and fetch the hits as PubMed XML, politely and loudly.

    ``sleep`` is used for both rate-limit waits and backoff, so tests can pass a no-op. By default
    all clients with the same API key share one rate limiter; pass ``rate_limiter`` to give a client
    its own (tests do, so that their no-op sleeps cannot delay anyone else).
    """

    def __init__(
        self,
        email: str,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        max_tries: int = 4,
        backoff: float = 2.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rate_limiter: RateLimiter | None = None,
        max_records_per_query: int = MAX_RECORDS_PER_QUERY,
    ):
        if not email or not email.strip():
            raise ValueError("NCBI requires an email address with every E-utilities request.")
        if max_tries < 1:
            raise ValueError(f"max_tries must be >= 1, not {max_tries}")
        if backoff < 0 or timeout <= 0:
            raise ValueError("backoff must be >= 0 and timeout > 0")
        if not 1 <= max_records_per_query <= MAX_RECORDS_PER_QUERY:
            raise ValueError(f"max_records_per_query must be in 1..{MAX_RECORDS_PER_QUERY}")
        self.email = email.strip()
        # Settings pass "" for "no key"; sending api_key= would be refused by NCBI.
        self.api_key = api_key or None
        self.base_url = base_url
        self.max_tries = max_tries
        self.backoff = backoff
        self.timeout = timeout
        self.max_records_per_query = max_records_per_query
        self._sleep = sleep
        self._limiter = rate_limiter or shared_rate_limiter(self.api_key)

    # -- searching ---------------------------------------------------------------------------

    def search(
        self,
        query: str,
        mindate: date | str | None = None,
        maxdate: date | str | None = None,
        datetype: str = "pdat",
    ) -> SearchResult:
        """Run esearch with usehistory=y; return the count, history keys, translation and errors.

        Dates may be ``date`` objects or "YYYY", "YYYY/MM", "YYYY/MM/DD" strings; a partial date
        means the start of its period for ``mindate`` and the end for ``maxdate``. NCBI ignores a
        lone mindate or maxdate, so a missing bound is filled in rather than dropped.
        """
        lo, hi = _date_bounds(mindate, maxdate)
        return self._esearch(query, lo, hi, datetype)

    def plan_search(
        self,
        query: str,
        mindate: date | str | None = None,
        maxdate: date | str | None = None,
        datetype: str = "pdat",
    ) -> SearchPlan:
        """Search, and when the count exceeds what PubMed serves, split it into date ranges.

        Each range is halved until its count is at most ``max_records_per_query``; a single day that
        still exceeds it raises ``EntrezLimitError``. Undated queries are split between
        ``EARLIEST_PUBLICATION_DATE`` and the end of next year. A shortfall between the reported
        count and the parts' total is logged and kept on the plan.
        """
        lo, hi = _date_bounds(mindate, maxdate)
        first = self._esearch(query, lo, hi, datetype)
        if first.count <= self.max_records_per_query:
            parts = [first]
        else:
            whole = first
            if lo is None:
                whole = self._esearch(query, EARLIEST_PUBLICATION_DATE, _latest_date(), datetype)
            parts = self._split(whole)
        plan = SearchPlan(
            query=query,
            datetype=datetype,
            count=first.count,
            parts=tuple(parts),
            split=first.count > self.max_records_per_query,
        )
        if plan.shortfall:
            logger.warning(
                "PubMed reported %d records for %r but the %d date ranges hold %d (shortfall %d)",
                plan.count,
                query,
                len(plan.parts),
                plan.parts_total,
                plan.shortfall,
            )
        return plan

    def _split(self, result: SearchResult) -> list[SearchResult]:
        if result.count <= self.max_records_per_query:
            return [result]
        lo, hi = result.mindate, result.maxdate
        assert lo is not None and hi is not None
        if lo == hi:
            raise EntrezLimitError(
                f"esearch {result.query!r} has {result.count} records with {result.datetype} "
                f"{_fmt(lo)}, more than PubMed serves for one query "
                f"({self.max_records_per_query}); a single day cannot be split further, so "
                "narrow the query."
            )
        mid = lo + (hi - lo) // 2
        left = self._esearch(result.query, lo, mid, result.datetype)
        right = self._esearch(result.query, mid + timedelta(days=1), hi, result.datetype)
        # The halves partition the range, so their counts must add up (give or take records added
        # meanwhile). If they do not, the server is ignoring the dates, and halving on would send
        # an exponential number of searches.
        if left.count + right.count > result.count + max(10, result.count // 100):
            raise EntrezReplyError(
                f"esearch {result.scope} has {result.count} records but its halves hold "
                f"{left.count} + {right.count}; the date limits are not being applied."
            )
        return self._split(left) + self._split(right)

    def _esearch(self, query: str, lo: date | None, hi: date | None, datetype: str) -> SearchResult:
        params: dict[str, object] = {
            "db": "pubmed",
            "term": query,
            "usehistory": "y",
            # The hits stay on the history server; the ids themselves come with efetch.
            "retmax": 0,
        }
        if lo is not None:
            params.update(datetype=datetype, mindate=_fmt(lo), maxdate=_fmt(hi))
        label = f"esearch {_scope(query, datetype, lo, hi)}"
        body = self._request(label, "esearch", params)
        _check_xml(body, label, expected_root="eSearchResult")
        try:
            record = Entrez.read(io.BytesIO(body))
        except Exception as exc:  # Biopython raises several unrelated types for bad XML
            raise EntrezReplyError(f"{label}: Biopython could not read the reply: {exc}") from exc
        count = int(record["Count"])
        webenv = record.get("WebEnv")
        query_key = record.get("QueryKey")
        if count and not (webenv and query_key):
            raise EntrezReplyError(
                f"{label}: {count} hits but no WebEnv/QueryKey; the history server was not used."
            )
        return SearchResult(
            query=query,
            count=count,
            webenv=str(webenv) if webenv else None,
            query_key=str(query_key) if query_key else None,
            query_translation=str(record.get("QueryTranslation", "")),
            datetype=datetype,
            mindate=lo,
            maxdate=hi,
            errors=_nonempty_lists(record.get("ErrorList")),
            warnings=_nonempty_lists(record.get("WarningList")),
        )

    # -- fetching ----------------------------------------------------------------------------

    def fetch_batches(
        self,
        search_result: SearchResult,
        batch_size: int = 500,
        start: int = 0,
        progress: ProgressCallback | None = None,
    ) -> Iterator[FetchedBatch]:
        """Fetch a search's hits from the history server as PubMed XML, one batch at a time.

        Yields ``FetchedBatch(batch_index, retstart, xml, n_articles)``; ``start`` (a multiple of
        ``batch_size``) resumes an interrupted fetch. Each reply must be a complete
        PubmedArticleSet with exactly the articles asked for; only the last batch may hold fewer
        (PubMed can drop records between esearch and efetch) and that is logged. ``progress`` is
        called after each batch with (records fetched so far, records expected).
        """
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be in 1..{MAX_BATCH_SIZE}, not {batch_size}")
        if start < 0 or start % batch_size:
            raise ValueError(f"start must be a non-negative multiple of batch_size, not {start}")
        count = search_result.count
        if count > self.max_records_per_query:
            raise EntrezLimitError(
                f"esearch {search_result.scope} has {count} records; PubMed serves at most "
                f"{self.max_records_per_query} per query. Use plan_search() to split it."
            )
        if count and not (search_result.webenv and search_result.query_key):
            raise ValueError("search_result has hits but no WebEnv/QueryKey to fetch them from")
        fetched = 0
        for retstart in range(start, count, batch_size):
            batch = self._fetch_batch(search_result, retstart, batch_size)
            fetched += batch.n_articles
            if progress is not None:
                progress(fetched, count - start)
            yield batch

    def fetch_plan(
        self,
        plan: SearchPlan,
        batch_size: int = 500,
        progress: ProgressCallback | None = None,
    ) -> Iterator[tuple[int, FetchedBatch]]:
        """Fetch every part of a plan in order, yielding (part_index, batch).

        ``part_index`` is the 0-based position in ``plan.parts``. ``progress`` is called after each
        batch with (records fetched so far, the parts' total).
        """
        fetched = 0
        for part_index, part in enumerate(plan.parts):
            for batch in self.fetch_batches(part, batch_size=batch_size):
                fetched += batch.n_articles
                if progress is not None:
                    progress(fetched, plan.parts_total)
                yield part_index, batch

    def _fetch_batch(self, result: SearchResult, retstart: int, batch_size: int) -> FetchedBatch:
        batch_index = retstart // batch_size + 1
        expected = min(batch_size, result.count - retstart)
        is_last = retstart + batch_size >= result.count
        label = f"efetch batch {batch_index} (records {retstart + 1}-{retstart + expected})"
        if result.mindate is not None:
            label += f" of {result.scope}"
        params: dict[str, object] = {
            "db": "pubmed",
            "WebEnv": result.webenv,
            "query_key": result.query_key,
            "retstart": retstart,
            "retmax": batch_size,
            # PubMed's full XML is retmode=xml with no rettype (E-utilities efetch docs, table 1).
            "retmode": "xml",
        }
        body = self._request(label, "efetch", params)
        root = _check_xml(body, label, expected_root="PubmedArticleSet")
        n_articles = sum(1 for child in root if child.tag in ARTICLE_TAGS)
        if n_articles > expected or (n_articles < expected and not is_last):
            raise EntrezReplyError(
                f"{label}: the reply holds {n_articles} articles, expected {expected}."
            )
        if n_articles < expected:
            logger.warning(
                "%s: the last batch holds %d articles, expected %d; PubMed reported %d in all",
                label,
                n_articles,
                expected,
                result.count,
            )
        return FetchedBatch(batch_index, retstart, body, n_articles)

    # -- links to PubMed Central ---------------------------------------------------------------

    def pmc_ids(self, pmids: list[str]) -> dict[str, str]:
        """PMCIDs ("PMC1234567") of the PubMed records that have a copy in PubMed Central.

        elink pubmed -> pmc with one ``id`` parameter per PMID, which makes NCBI answer one LinkSet
        per PMID (a comma-separated list would mix all the links together). PMIDs without a PMC
        copy are simply absent from the result.
        """
        found: dict[str, str] = {}
        for start in range(0, len(pmids), 100):
            chunk = [p for p in pmids[start : start + 100] if p]
            if not chunk:
                continue
            label = f"elink pubmed->pmc ({len(chunk)} PMIDs from {chunk[0]})"
            params: dict[str, object] = {
                "dbfrom": "pubmed",
                "db": "pmc",
                "linkname": "pubmed_pmc",
                "id": chunk,
            }
            body = self._request(label, "elink", params, join_ids=False)
            root = _check_xml(body, label, expected_root="eLinkResult")
            for linkset in root.iter("LinkSet"):
                pmid = (linkset.findtext("IdList/Id") or "").strip()
                for db in linkset.iter("LinkSetDb"):
                    if (db.findtext("LinkName") or "") not in ("pubmed_pmc", ""):
                        continue
                    pmc = (db.findtext("Link/Id") or "").strip()
                    if pmid and pmc.isdigit():
                        found[pmid] = f"PMC{pmc}"
        return found

    # -- transport ---------------------------------------------------------------------------

    def _request(
        self, label: str, utility: str, params: dict[str, object], *, join_ids: bool = True
    ) -> bytes:
        params = {**params, "tool": TOOL, "email": self.email, "api_key": self.api_key}
        request = _build_request(self.base_url, utility, params, join_ids=join_ids)
        for attempt in range(1, self.max_tries + 1):
            wait = self._limiter.reserve()
            if wait > 0:
                self._sleep(wait)
            retry_after: float | None = None
            cause: Exception
            try:
                with urlopen(request, timeout=self.timeout) as response:
                    return response.read()
            except HTTPError as exc:
                status = exc.code
                retry_after = _retry_after_seconds(exc.headers.get("Retry-After"))
                detail = _error_body(exc)
                if status != 429 and status < 500:
                    raise EntrezRequestError(
                        f"{label} failed: HTTP {status} (not retried){detail}",
                        tries=attempt,
                        status=status,
                    ) from exc
                reason, last_status, cause = f"HTTP {status}", status, exc
            except (URLError, OSError, http.client.HTTPException) as exc:
                reason, last_status, cause = self._describe(exc), None, exc
            if attempt == self.max_tries:
                raise EntrezRequestError(
                    f"{label} failed after {attempt} {'try' if attempt == 1 else 'tries'}: {reason}",
                    tries=attempt,
                    status=last_status,
                ) from cause
            delay = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
            if retry_after is not None:
                delay = max(delay, min(retry_after, MAX_BACKOFF_SECONDS))
            logger.warning(
                "%s: try %d of %d failed (%s); retrying in %.1f s",
                label,
                attempt,
                self.max_tries,
                reason,
                delay,
            )
            self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    def _describe(self, exc: BaseException) -> str:
        reason = exc.reason if isinstance(exc, URLError) else exc
        if isinstance(reason, TimeoutError):
            return f"timed out after {self.timeout:g} s"
        return f"{type(reason).__name__}: {reason}"


def _check_xml(body: bytes, label: str, *, expected_root: str) -> etree._Element:
    """Parse a reply and insist it is complete XML with the expected root and no ERROR element."""
    if not body.strip():
        raise EntrezReplyError(f"{label}: the reply is empty.")
    try:
        # A parser per call: lxml parsers must not be shared between threads. No DTD, entities or
        # network, so a reply cannot make us fetch anything.
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        # The opening bytes tell an HTML error page from XML cut off in transit.
        head = " ".join(body[:60].decode("utf-8", "replace").split())
        raise EntrezReplyError(
            f"{label}: the reply is not complete XML ({exc}); it starts {head!r}."
        ) from exc
    errors = [(element.text or "").strip() for element in root.iter("ERROR")]
    if errors:
        raise EntrezReplyError(f"{label}: NCBI replied with an error: {'; '.join(errors)}")
    if root.tag != expected_root:
        raise EntrezReplyError(f"{label}: expected a <{expected_root}> reply, got <{root.tag}>.")
    return root


def _nonempty_lists(value: Mapping[str, Iterable[object]] | None) -> dict[str, list[str]]:
    if not value:
        return {}
    return {str(key): [str(item) for item in items] for key, items in value.items() if items}


def _retry_after_seconds(value: str | None) -> float | None:
    # NCBI sends delta-seconds; an HTTP-date form is ignored in favour of our own backoff.
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_body(exc: HTTPError) -> str:
    try:
        text = exc.read(300).decode("utf-8", "replace").strip()
    except Exception:  # the body is a nicety for the message; never mask the HTTP error
        return ""
    finally:
        exc.close()
    text = " ".join(text.split())
    return f": {text[:200]}" if text else ""


def _scope(query: str, datetype: str, lo: date | None, hi: date | None) -> str:
    if lo is None:
        return repr(query)
    return f"{query!r} ({datetype} {_fmt(lo)}-{_fmt(hi)})"


def _fmt(value: date | None) -> str:
    return "" if value is None else f"{value.year:04d}/{value.month:02d}/{value.day:02d}"


def _latest_date() -> date:
    return date(date.today().year + 1, 12, 31)


def _parse_date(value: date | str, *, end: bool) -> date:
    if isinstance(value, date):
        return value
    match = _DATE_PATTERN.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a date; use YYYY, YYYY/MM or YYYY/MM/DD.")
    year, month, day = (int(part) if part else None for part in match.groups())
    if year is None:
        # The pattern's year group is not optional.
        raise AssertionError(f"{value!r} matched without a year")
    if month is None:
        return date(year, 12, 31) if end else date(year, 1, 1)
    if day is None:
        if not end:
            return date(year, month, 1)
        next_month = date(year + month // 12, month % 12 + 1, 1)
        return next_month - timedelta(days=1)
    return date(year, month, day)


def _date_bounds(
    mindate: date | str | None, maxdate: date | str | None
) -> tuple[date | None, date | None]:
    if mindate is None and maxdate is None:
        return None, None
    lo = EARLIEST_PUBLICATION_DATE if mindate is None else _parse_date(mindate, end=False)
    hi = _latest_date() if maxdate is None else _parse_date(maxdate, end=True)
    if lo > hi:
        raise ValueError(f"mindate {_fmt(lo)} is after maxdate {_fmt(hi)}")
    return lo, hi
