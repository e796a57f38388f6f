"""A fake of the open-access services for tests: Entrez elink, the PMC OA service, Unpaywall and
the file hosts their links point to, on one ThreadingHTTPServer on 127.0.0.1.

Its replies are the shapes of tests/fixtures/openaccess (written from each service's documented
format), filled in per request. Script it per test:

- ``link(pmid, pmcid)``: elink pubmed->pmc finds ``pmcid`` for ``pmid`` (others get no LinkSetDb).
- ``pmc(pmcid, "pdf", file=name)`` / ``pmc(pmcid, "tgz")`` / ``pmc(pmcid, "not_oa")``; an
  unscripted PMCID gets idDoesNotExist.
- ``unpaywall(doi, "pdf", file=name)`` / ``"landing"`` / ``"closed"``; an unscripted DOI gets 404.
- ``file(name, body, content_type)``: what the PDF links serve; an unknown name is a 404.
- ``fault(path_prefix, status, times=k, retry_after=None)``: the next k requests under the prefix
  answer ``status`` (429 with Retry-After, 503...) instead.

Every request is kept in ``requests`` with its path, query and arrival time (time.monotonic), so
tests can check the spacing the rate limiters keep.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "openaccess"


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


@dataclass(frozen=True)
class Seen:
    path: str
    query: dict[str, list[str]]
    at: float


class FakeOpenAccess:
    def __init__(self) -> None:
        self.links: dict[str, str] = {}
        self.pmcs: dict[str, tuple[str, str]] = {}
        self.dois: dict[str, tuple[str, str]] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.faults: list[list] = []
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- where settings point -----------------------------------------------------------------

    @property
    def settings(self) -> dict[str, str]:
        """Environment-style values; tests set them on django settings or a worker's env."""
        return {
            "ENTREZ_BASE_URL": f"{self.base}/entrez/eutils/",
            "PMC_OA_BASE_URL": f"{self.base}/pmc/utils/oa/oa.fcgi",
            "UNPAYWALL_BASE_URL": f"{self.base}/v2/",
            # The fakes' PDF links are on 127.0.0.1, which production refuses to fetch.
            "OPENACCESS_ALLOW_PRIVATE_HOSTS": "1",
        }

    # -- scripting ------------------------------------------------------------------------------

    def link(self, pmid: str, pmcid: str) -> None:
        self.links[pmid] = pmcid

    def pmc(self, pmcid: str, kind: str, *, file: str = "") -> None:
        self.pmcs[pmcid] = (kind, file)

    def unpaywall(self, doi: str, kind: str, *, file: str = "") -> None:
        self.dois[doi.lower()] = (kind, file)

    def file(self, name: str, body: bytes, content_type: str = "application/pdf") -> None:
        self.files[name] = (body, content_type)

    def fault(
        self, prefix: str, status: int, *, times: int = 1, retry_after: int | None = None
    ) -> None:
        self.faults.append([prefix, status, times, retry_after])

    def seen(self, prefix: str) -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    # -- serving --------------------------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                path, query = unquote(parts.path), parse_qs(parts.query)
                with fake._lock:
                    fake.requests.append(Seen(path, query, time.monotonic()))
                    for fault in fake.faults:
                        if path.startswith(fault[0]) and fault[2] > 0:
                            fault[2] -= 1
                            headers = {"Retry-After": str(fault[3])} if fault[3] else {}
                            return self._send(fault[1], b"<html>busy</html>", "text/html", headers)
                status, body, kind = fake._answer(path, query)
                self._send(status, body, kind)

            def _send(self, status, body, kind, headers=None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes, str]:
        if path.endswith("/elink.fcgi"):
            sets = []
            for pmid in query.get("id", []):
                db = ""
                if pmid in self.links:
                    number = self.links[pmid].removeprefix("PMC")
                    db = _fixture("elink_linksetdb.xml").replace("@@PMCNUMBER@@", number)
                sets.append(
                    _fixture("elink_linkset.xml")
                    .replace("@@PMID@@", pmid)
                    .replace("@@LINKSETDB@@", db)
                )
            xml = (
                _fixture("elink_head.xml") + "<eLinkResult>\n" + "".join(sets) + "</eLinkResult>\n"
            )
            return 200, xml.encode(), "text/xml; charset=UTF-8"
        if path.endswith("/oa.fcgi"):
            pmcid = (query.get("id") or [""])[0]
            kind, file = self.pmcs.get(pmcid, ("missing", ""))
            name = {
                "pdf": "pmc_oa_pdf.xml",
                "tgz": "pmc_oa_tgz_only.xml",
                "not_oa": "pmc_oa_not_open_access.xml",
            }.get(kind, "pmc_oa_no_such_id.xml")
            xml = (
                _fixture(name)
                .replace("@@PMCID@@", pmcid)
                .replace("@@FILES@@", f"{self.base}/files")
                .replace("@@FILE@@", file)
            )
            return 200, xml.encode(), "text/xml; charset=UTF-8"
        if path.startswith("/v2/"):
            doi = path[len("/v2/") :]
            if not query.get("email"):
                body = {"HTTP_status_code": 422, "error": True, "message": "email required"}
                return 422, json.dumps(body).encode(), "application/json"
            kind, file = self.dois.get(doi.lower(), ("missing", ""))
            name = {
                "pdf": "unpaywall_oa_pdf.json",
                "landing": "unpaywall_oa_landing_only.json",
                "closed": "unpaywall_closed.json",
            }.get(kind, "unpaywall_not_found.json")
            text = (
                _fixture(name)
                .replace("@@DOI@@", doi)
                .replace("@@PDF_URL@@", f"{self.base}/files/{file}")
            )
            return (404 if kind == "missing" else 200), text.encode(), "application/json"
        if path.startswith("/files/"):
            name = path.rsplit("/", 1)[-1]
            if name in self.files:
                body, kind = self.files[name]
                return 200, body, kind
            return 404, b"<html>Not Found</html>", "text/html"
        return 400, b"unknown path", "text/plain"


@contextmanager
def running_fake_openaccess() -> Iterator[FakeOpenAccess]:
    fake = FakeOpenAccess()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


@pytest.fixture
def fake_openaccess() -> Iterator[FakeOpenAccess]:
    with running_fake_openaccess() as fake:
        yield fake
