"""A fake NCBI E-utilities server for tests: replays recorded replies, scriptable per test.

It listens on 127.0.0.1 on an ephemeral port (``http.server.ThreadingHTTPServer`` in a thread), so
the real Bio.Entrez request code can talk to it over HTTP and no test ever reaches NCBI. Use the
``fake_eutils`` fixture (import ``fake_eutils_fixture`` into the test module, or list this module in
a conftest's ``pytest_plugins``) or ``running_fake_eutils()``, then point a client at
``fake.base_url``.

Scripting, per test:

- ``replay_search(term, "esearch2.xml")`` answers esearch for ``term`` with a recorded reply,
  verbatim (date limits are ignored, as the recording cannot know them).
- ``script_search(term, per_day)`` answers esearch with counts computed from records per day, so a
  date-limited search counts only the days in range. ``spread()`` builds such a mapping; a large
  total (25,000) drives the client's date split. Each record has a fixed PMID (by its position in
  day order), so the same record carries the same PMID whichever range finds it.
- efetch from the history (WebEnv + query_key) serves PubmedArticle elements cut from the recorded
  efetch replies (pubmed1.xml, pubmed2.xml, pubmed5.xml), cycled, each given its record's PMID; the
  retstart/retmax window is honoured. DOIs and titles repeat across records: only PMIDs are unique.
- ``inject(fault, on=N, utility=..., times=k)`` spoils the Nth request (counted per utility when one
  is given) and the k-1 after it: HTTP 429 with Retry-After, 500, 503, a slow reply, truncated XML,
  the HTML page, the ERROR reply, a dropped connection, a batch with articles missing.

Emulated NCBI behaviour (from its documentation and reported replies, not recordings): a lone
mindate or maxdate is ignored; datetype pdat, edat or mdat picks the date the limits apply to (a
scripted day stands for all three: its records were published and entered that day); efetch with retstart at or beyond ``max_retrievable`` (9,999) answers
with an ERROR element; an unknown WebEnv answers with an ERROR element. A term nobody scripted gets
HTTP 400, so a test that forgets to script its search fails loudly.

Every request is recorded (``requests``) with its utility, method, parameters and arrival time.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pytest
from lxml import etree

FIXTURES = Path(__file__).parent / "fixtures" / "entrez"
EFETCH_TEMPLATES = ("pubmed1.xml", "pubmed2.xml", "pubmed5.xml")
PMID_PLACEHOLDER = b"@@PMID@@"
EUTILS_PATH = "/entrez/eutils/"
# The datetype values esearch takes, with the field name its translation shows.
DATE_TYPES = {"pdat": "Date - Publication", "edat": "Date - Entry", "mdat": "Date - Modification"}

ESEARCH_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" ?>\n'
    b'<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
    b'"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
)
EFETCH_HEAD = (
    b'<?xml version="1.0" ?>\n'
    b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
)


def fixture_bytes(name: str) -> bytes:
    """The recorded reply ``name`` from tests/fixtures/entrez, as bytes."""
    return (FIXTURES / name).read_bytes()


def spread(total: int, first: date, last: date) -> dict[date, int]:
    """``total`` records spread as evenly as possible over the days ``first``..``last``."""
    days = (last - first).days + 1
    per_day, extra = divmod(total, days)
    return {
        first + timedelta(days=offset): per_day + (1 if offset < extra else 0)
        for offset in range(days)
    }


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received; ``number`` counts all requests from 1."""

    number: int
    method: str
    utility: str
    path: str
    params: dict[str, str]
    received_at: float
    fault: str | None = None


@dataclass(frozen=True)
class Fault:
    """How to spoil a reply. Build one with the class methods."""

    description: str
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None  # None: send the normal reply
    content_type: str = "text/xml; charset=UTF-8"
    delay: float = 0.0
    keep_fraction: float | None = None
    missing_articles: int = 0
    disconnect: bool = False

    @classmethod
    def http(cls, status: int, *, retry_after: int | None = None) -> Fault:
        """An HTTP error status with NCBI's kind of HTML body, and Retry-After if given."""
        headers = () if retry_after is None else (("Retry-After", str(retry_after)),)
        body = (
            f"<html><head><title>NCBI - WWW Error {status}</title></head>"
            f"<body><h1>Error {status}</h1></body></html>"
        ).encode()
        return cls(f"HTTP {status}", status, headers, body, "text/html; charset=UTF-8")

    @classmethod
    def slow(cls, seconds: float = 2.0) -> Fault:
        """The normal reply, sent after ``seconds`` (longer than the client's timeout)."""
        return cls(f"slow {seconds}s", delay=seconds)

    @classmethod
    def truncated(cls, keep_fraction: float = 0.5) -> Fault:
        """The normal reply cut off, with a Content-Length that matches the cut body."""
        return cls(f"truncated to {keep_fraction:.0%}", keep_fraction=keep_fraction)

    @classmethod
    def replay(cls, fixture: str, content_type: str = "text/xml; charset=UTF-8") -> Fault:
        """A recorded reply from tests/fixtures/entrez instead of the normal one."""
        return cls(f"replay {fixture}", body=fixture_bytes(fixture), content_type=content_type)

    @classmethod
    def html(cls) -> Fault:
        """The recorded non-XML HTML page (pubmed3.html) with status 200."""
        return replace(cls.replay("pubmed3.html", "text/html"), description="HTML page")

    @classmethod
    def error_reply(cls) -> Fault:
        """The recorded ERROR reply (epost2.xml) with status 200."""
        return replace(cls.replay("epost2.xml"), description="ERROR reply")

    @classmethod
    def fewer_articles(cls, missing: int = 1) -> Fault:
        """The normal efetch reply with the last ``missing`` articles left out."""
        return cls(f"{missing} articles missing", missing_articles=missing)

    @classmethod
    def dropped_connection(cls) -> Fault:
        """Close the connection without answering."""
        return cls("dropped connection", disconnect=True)


@dataclass
class _FaultRule:
    fault: Fault
    utility: str | None
    on: int
    remaining: int


@dataclass(frozen=True)
class _History:
    count: int
    first_pmid: int


@dataclass
class _ScriptedSearch:
    per_day: dict[date, int] | None = None
    recorded: bytes | None = None
    translation: str | None = None
    first_pmid: int = 0
    day_offsets: dict[date, int] = field(default_factory=dict)


class FakeEutils:
    """The fake server's state and behaviour; see the module docstring."""

    def __init__(self, *, max_retrievable: int = 9_999):
        self.max_retrievable = max_retrievable
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._searches: dict[str, _ScriptedSearch] = {}
        self._history: dict[tuple[str, str], _History] = {}
        self._faults: list[_FaultRule] = []
        self._counts: Counter[str] = Counter()
        self._webenvs = itertools.count(1)
        self._pmid_blocks = itertools.count(1)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._templates = _article_templates()

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The E-utilities base URL to give the client, e.g. http://127.0.0.1:PORT/entrez/eutils/."""
        assert self._server is not None, "the fake server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{EUTILS_PATH}"

    def start(self) -> None:
        """Start serving in a background thread."""
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll keeps shutdown (each test's teardown) from waiting the default 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; slow replies still waiting are released at once."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- scripting -----------------------------------------------------------------------------

    def replay_search(self, term: str, fixture: str = "esearch2.xml") -> None:
        """Answer esearch for ``term`` with a recorded reply; its WebEnv/QueryKey become fetchable."""
        body = fixture_bytes(fixture)
        root = etree.fromstring(body)
        search = _ScriptedSearch(recorded=body, first_pmid=self._next_pmid_block())
        webenv, query_key = root.findtext("WebEnv"), root.findtext("QueryKey")
        with self._lock:
            self._searches[term] = search
            if webenv and query_key:
                count = int(root.findtext("Count"))
                self._history[(webenv, query_key)] = _History(count, search.first_pmid)

    def script_search(
        self, term: str, per_day: Mapping[date, int], *, translation: str | None = None
    ) -> None:
        """Answer esearch for ``term`` with counts computed from ``per_day`` (records per day).

        Scripting a term again keeps its PMIDs: records keep their place in day order, so adding
        later days is how a test says "PubMed has indexed more records since" (a living review).
        """
        days = dict(sorted(per_day.items()))
        offsets = dict(zip(days, itertools.accumulate([0, *days.values()]), strict=False))
        earlier = self._searches.get(term)
        search = _ScriptedSearch(
            per_day=days,
            translation=translation,
            first_pmid=earlier.first_pmid if earlier else self._next_pmid_block(),
            day_offsets=offsets,
        )
        with self._lock:
            self._searches[term] = search

    def inject(
        self, fault: Fault, *, on: int = 1, utility: str | None = None, times: int = 1
    ) -> None:
        """Spoil requests number ``on`` .. ``on + times - 1`` (counted per ``utility`` if given)."""
        with self._lock:
            self._faults.append(_FaultRule(fault, utility, on, times))

    def requests_to(self, utility: str) -> list[RecordedRequest]:
        """The recorded requests to one utility ("esearch", "efetch"), in arrival order."""
        with self._lock:
            return [request for request in self.requests if request.utility == utility]

    def count_between(self, term: str, mindate: date, maxdate: date) -> int:
        """The number of scripted records for ``term`` dated ``mindate``..``maxdate``."""
        per_day = self._searches[term].per_day
        assert per_day is not None, f"{term!r} replays a recording; it has no per-day counts"
        return sum(n for day, n in per_day.items() if mindate <= day <= maxdate)

    # -- serving -------------------------------------------------------------------------------

    def _next_pmid_block(self) -> int:
        # Distinct terms get PMIDs far apart so their records never collide.
        return 30_000_000 + next(self._pmid_blocks) * 1_000_000

    def _admit(self, method: str, path: str, params: dict[str, str]) -> tuple[int, Fault | None]:
        utility = path.rsplit("/", 1)[-1].removesuffix(".fcgi")
        with self._lock:
            number = len(self.requests) + 1
            self._counts[utility] += 1
            fault = None
            for rule in self._faults:
                if rule.utility not in (None, utility) or rule.remaining <= 0:
                    continue
                position = self._counts[utility] if rule.utility else number
                if position >= rule.on:
                    rule.remaining -= 1
                    fault = rule.fault
                    break
            self.requests.append(
                RecordedRequest(
                    number,
                    method,
                    utility,
                    path,
                    params,
                    time.monotonic(),
                    fault.description if fault else None,
                )
            )
        return number, fault

    def _reply(self, path: str, params: dict[str, str]) -> tuple[int, bytes, str]:
        """The normal reply: (status, body, content type)."""
        if not path.startswith(EUTILS_PATH):
            return 404, b"not found", "text/plain"
        utility = path.removeprefix(EUTILS_PATH).removesuffix(".fcgi")
        if utility == "esearch":
            return self._esearch(params)
        if utility == "efetch":
            return self._efetch(params)
        return 400, f"fake E-utilities does not serve {utility!r}".encode(), "text/plain"

    def _esearch(self, params: dict[str, str]) -> tuple[int, bytes, str]:
        term = params.get("term", "")
        with self._lock:
            search = self._searches.get(term)
        if search is None:
            message = f"fake E-utilities: no esearch reply scripted for term {term!r}"
            return 400, message.encode(), "text/plain"
        if search.recorded is not None:
            return 200, search.recorded, "text/xml; charset=UTF-8"
        assert search.per_day is not None
        days = list(search.per_day)
        first, last = days[0], days[-1]
        translation = search.translation or f"{term}[All Fields]"
        # NCBI applies date limits only when both ends are given, to the kind of date named
        # by datetype (publication when none is). A scripted day is the day its records were
        # both published and entered, so a living update's entry-date window finds exactly the
        # days scripted since.
        datetype = params.get("datetype") or "pdat"
        if datetype not in DATE_TYPES:
            return 400, f"fake E-utilities: unknown datetype {datetype!r}".encode(), "text/plain"
        if params.get("mindate") and params.get("maxdate"):
            lo = _parse_date(params["mindate"], end=False)
            hi = _parse_date(params["maxdate"], end=True)
            label = DATE_TYPES[datetype]
            translation += f" AND {params['mindate']}:{params['maxdate']}[{label}]"
        else:
            lo, hi = first, last
        in_range = [day for day in days if lo <= day <= hi]
        count = sum(search.per_day[day] for day in in_range)
        offset = search.day_offsets[in_range[0]] if in_range else 0
        webenv, query_key = f"MCID_FAKE{next(self._webenvs):06d}", "1"
        with self._lock:
            self._history[(webenv, query_key)] = _History(count, search.first_pmid + offset)
        body = (
            ESEARCH_HEAD
            + (
                f"<eSearchResult><Count>{count}</Count><RetMax>0</RetMax><RetStart>0</RetStart>"
                f"<QueryKey>{query_key}</QueryKey><WebEnv>{webenv}</WebEnv><IdList/><TranslationSet/>"
                f"<QueryTranslation>{escape(translation)}</QueryTranslation></eSearchResult>\n"
            ).encode()
        )
        return 200, body, "text/xml; charset=UTF-8"

    def _efetch(self, params: dict[str, str], missing: int = 0) -> tuple[int, bytes, str]:
        key = (params.get("WebEnv", ""), params.get("query_key", ""))
        with self._lock:
            history = self._history.get(key)
        if history is None:
            return _fetch_error(f"Unable to obtain query #{key[1]}")
        retstart = int(params.get("retstart", 0))
        retmax = int(params.get("retmax", 20))
        if retstart >= self.max_retrievable:
            return _fetch_error(
                f"Search Backend failed: retstart {retstart} is out of the acceptable range "
                f"[0, {self.max_retrievable - 1}]"
            )
        stop = min(retstart + retmax, history.count, self.max_retrievable) - missing
        articles = [
            self._templates[position % len(self._templates)].replace(
                PMID_PLACEHOLDER, str(history.first_pmid + position).encode()
            )
            for position in range(retstart, max(stop, retstart))
        ]
        body = EFETCH_HEAD + b"<PubmedArticleSet>\n" + b"\n".join(articles)
        body += b"\n</PubmedArticleSet>\n"
        return 200, body, "text/xml; charset=UTF-8"


class _Handler(BaseHTTPRequestHandler):
    owner: FakeEutils

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        split = urlsplit(self.path)
        self._serve("GET", split.path, split.query)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._serve("POST", urlsplit(self.path).path, self.rfile.read(length).decode())

    def log_message(self, format: str, *args: object) -> None:
        # Keep pytest's output clean; the requests are recorded on the fake instead.
        pass

    def _serve(self, method: str, path: str, query: str) -> None:
        params = {
            key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()
        }
        fake = self.owner
        _, fault = fake._admit(method, path, params)
        if fault is not None and fault.disconnect:
            self.close_connection = True
            return
        if fault is not None and fault.missing_articles:
            status, body, content_type = fake._efetch(params, missing=fault.missing_articles)
        else:
            status, body, content_type = fake._reply(path, params)
        headers: tuple[tuple[str, str], ...] = ()
        if fault is not None:
            if fault.delay and fake._stopping.wait(fault.delay):
                return
            if fault.body is not None:
                status, body, content_type = fault.status, fault.body, fault.content_type
            if fault.keep_fraction is not None:
                body = body[: int(len(body) * fault.keep_fraction)]
            headers = fault.headers
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a slow-reply test); nothing is waiting for this reply.
            pass


def _fetch_error(message: str) -> tuple[int, bytes, str]:
    body = (
        b'<?xml version="1.0" encoding="UTF-8" ?>\n'
        + f"<eFetchResult>\n\t<ERROR>{escape(message)}</ERROR>\n</eFetchResult>\n".encode()
    )
    return 200, body, "text/xml; charset=UTF-8"


def _article_templates() -> list[bytes]:
    """The recorded PubmedArticle elements, serialised with a placeholder for their PMID."""
    templates = []
    for name in EFETCH_TEMPLATES:
        root = etree.fromstring(fixture_bytes(name))
        for article in root.iterfind("PubmedArticle"):
            article = etree.fromstring(etree.tostring(article))
            placeholder = PMID_PLACEHOLDER.decode()
            article.find("MedlineCitation/PMID").text = placeholder
            for article_id in article.iterfind("PubmedData/ArticleIdList/ArticleId"):
                if article_id.get("IdType") == "pubmed":
                    article_id.text = placeholder
            templates.append(etree.tostring(article, with_tail=False))
    return templates


def _parse_date(value: str, *, end: bool) -> date:
    parts = [int(part) for part in value.replace("-", "/").split("/")]
    if len(parts) == 3:
        return date(*parts)
    if len(parts) == 2:
        year, month = parts
        if not end:
            return date(year, month, 1)
        return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return date(parts[0], 12, 31) if end else date(parts[0], 1, 1)


@contextmanager
def running_fake_eutils(*, max_retrievable: int = 9_999) -> Iterator[FakeEutils]:
    """A started fake server, stopped on exit."""
    fake = FakeEutils(max_retrievable=max_retrievable)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(name="fake_eutils")
def fake_eutils_fixture() -> Iterator[FakeEutils]:
    """A running fake E-utilities server for one test."""
    with running_fake_eutils() as fake:
        yield fake
