"""Open-access full texts: PubMed Central's OA service and Unpaywall, and the PDFs they point to.

No Django import: the caller passes base URLs, the Unpaywall email and the rate limiters in.

- PMC OA web service (https://www.ncbi.nlm.nih.gov/pmc/tools/oa-service/): ``oa.fcgi?id=PMCxxxx``
  answers ``<OA><records><record id=...><link format="pdf|tgz" href=.../></record></records></OA>``
  for an article in the open-access subset, and ``<OA><error code="idIsNotOpenAccess">`` (or
  ``idDoesNotExist``) otherwise. Its links are ftp:// URLs on ftp.ncbi.nlm.nih.gov, a host NCBI
  also serves over HTTPS, which is what we fetch.
- Unpaywall REST API v2 (https://unpaywall.org/products/api): ``/v2/<doi>?email=...`` answers a
  DOI object whose ``best_oa_location.url_for_pdf`` is the best PDF link (null when the best copy
  is only a landing page); 404 for a DOI it does not know.

Every request waits its turn at a limiter (``reserve()`` returns the seconds to wait; see
``reviewapp/integrations/ratelimit.py`` for the one shared by all workers through Redis), and
retries network errors, timeouts, HTTP 429 and 5xx with exponential backoff. Other HTTP errors are
answers, not faults, and are not retried.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import HTTPRedirectHandler, Request, build_opener, urlopen

from lxml import etree

logger = logging.getLogger(__name__)

USER_AGENT = "reviewapp (systematic review full-text retrieval)"
MAX_BACKOFF_SECONDS = 120.0
# Metadata replies (OA XML, Unpaywall JSON) are small; anything bigger is not what we asked for.
MAX_METADATA_BYTES = 2 * 1024 * 1024


class Limiter(Protocol):
    def reserve(self) -> float: ...


class NoLimit:
    """A limiter that never waits (tests that count requests, not time)."""

    def reserve(self) -> float:
        return 0.0


class FetchError(Exception):
    """A request that gave no usable answer; ``reason`` is a short phrase for the report."""

    def __init__(self, reason: str, *, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class TooLarge(FetchError):
    """The file is over the size limit (from Content-Length or while reading)."""


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    url: str


@dataclass(frozen=True)
class Lookup:
    """Where a service says the PDF is, or why it has none (``pdf_url`` empty)."""

    pdf_url: str = ""
    reason: str = ""
    landing_url: str = ""


def public_host_check(url: str) -> None:
    """Raise FetchError unless every address of the URL's host is a public one.

    PDF links come from third parties (Unpaywall's data, publishers' redirects): a link to
    localhost or the cloud metadata address must not make the worker fetch it for them.
    """
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"the host {host!r} cannot be resolved") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise FetchError(f"the link points at a private address ({host}); not fetched")


class _CheckedRedirects(HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"redirected to a non-http(s) address: {newurl[:80]}")
        public_host_check(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class HttpClient:
    """GET with a timeout, a limiter, retries with backoff for transient faults, and a size cap."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_tries: int = 4,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.timeout = timeout
        self.max_tries = max_tries
        self.backoff = backoff
        self._sleep = sleep

    def get(
        self,
        url: str,
        *,
        limiter: Limiter,
        max_bytes: int = MAX_METADATA_BYTES,
        accept: str = "*/*",
        not_found_ok: bool = False,
        public_only: bool = False,
    ) -> Reply:
        """GET ``url``; with ``public_only`` the host and every redirect must be public."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchError(f"not an http(s) address: {url[:80]}")
        request = Request(url, headers={"User-Agent": USER_AGENT, "Accept": accept})
        opener: Callable[..., Any] = urlopen
        if public_only:
            public_host_check(url)
            opener = build_opener(_CheckedRedirects).open
        for attempt in range(1, self.max_tries + 1):
            wait = limiter.reserve()
            if wait > 0:
                self._sleep(wait)
            retry_after: float | None = None
            try:
                with opener(request, timeout=self.timeout) as response:
                    length = response.headers.get("Content-Length")
                    if length and length.isdigit() and int(length) > max_bytes:
                        raise TooLarge(_too_large(int(length), max_bytes))
                    body = response.read(max_bytes + 1)
                    if len(body) > max_bytes:
                        raise TooLarge(_too_large(None, max_bytes))
                    return Reply(
                        response.status,
                        response.headers.get("Content-Type", ""),
                        body,
                        response.geturl(),
                    )
            except HTTPError as exc:
                status = exc.code
                retry_after = _seconds(exc.headers.get("Retry-After")) if exc.headers else None
                if status == 404 and not_found_ok:
                    body = exc.read(max_bytes)
                    exc.close()
                    return Reply(404, exc.headers.get("Content-Type", ""), body, url)
                exc.close()
                if status != 429 and status < 500:
                    raise FetchError(f"HTTP {status}", status=status) from exc
                reason: str = f"HTTP {status}"
                last_status: int | None = status
            except TooLarge:
                raise
            except (URLError, OSError, http.client.HTTPException) as exc:
                cause = exc.reason if isinstance(exc, URLError) else exc
                if isinstance(cause, TimeoutError):
                    reason = f"timed out after {self.timeout:g} s"
                else:
                    reason = f"{type(cause).__name__}: {cause}"
                last_status = None
            if attempt == self.max_tries:
                raise FetchError(
                    f"{reason} ({attempt} {'try' if attempt == 1 else 'tries'})", status=last_status
                )
            delay = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
            if retry_after is not None:
                delay = max(delay, min(retry_after, MAX_BACKOFF_SECONDS))
            logger.warning(
                "GET %s: try %d failed (%s); again in %.1f s", url, attempt, reason, delay
            )
            self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")


def _too_large(size: int | None, limit: int) -> str:
    mb = limit / 1048576
    if size is None:
        return f"larger than the {mb:.0f} MB limit"
    return f"{size / 1048576:.1f} MB, over the {mb:.0f} MB limit"


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def https_for_ncbi_ftp(url: str) -> str:
    """PMC's OA links are ftp:// on ftp.ncbi.nlm.nih.gov; the same paths are served over HTTPS."""
    if url.startswith("ftp://"):
        return "https://" + url[len("ftp://") :]
    return url


def pmc_oa_lookup(client: HttpClient, base_url: str, pmcid: str, *, limiter: Limiter) -> Lookup:
    """Ask the PMC OA service for an article's PDF link."""
    url = f"{base_url}?{urlencode({'id': pmcid})}"
    reply = client.get(url, limiter=limiter, accept="text/xml")
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        root = etree.fromstring(reply.body, parser=parser)
    except etree.XMLSyntaxError:
        raise FetchError("the PMC OA service did not answer with XML") from None
    error = root.find("error")
    if error is not None:
        code = error.get("code", "")
        if code == "idIsNotOpenAccess":
            return Lookup(reason=f"{pmcid} is not in the PMC open-access subset")
        if code == "idDoesNotExist":
            return Lookup(reason=f"PMC does not know {pmcid}")
        return Lookup(reason=f"PMC OA service: {(error.text or code).strip()[:150]}")
    links = {link.get("format"): link.get("href", "") for link in root.iter("link")}
    if links.get("pdf"):
        return Lookup(pdf_url=https_for_ncbi_ftp(links["pdf"]))
    if links.get("tgz"):
        return Lookup(reason=f"{pmcid} is open access but PMC offers only a tgz package, no PDF")
    return Lookup(reason=f"the PMC OA service lists no file for {pmcid}")


def unpaywall_lookup(
    client: HttpClient, base_url: str, doi: str, *, email: str, limiter: Limiter
) -> Lookup:
    """Ask Unpaywall for the best open-access PDF of a DOI."""
    url = f"{base_url.rstrip('/')}/{quote(doi, safe='/')}?{urlencode({'email': email})}"
    reply = client.get(url, limiter=limiter, accept="application/json", not_found_ok=True)
    if reply.status == 404:
        return Lookup(reason="Unpaywall does not know this DOI")
    try:
        data = json.loads(reply.body)
    except ValueError:
        raise FetchError("Unpaywall did not answer with JSON") from None
    if not isinstance(data, dict):
        raise FetchError("Unpaywall's answer is not a DOI object")
    if not data.get("is_oa"):
        return Lookup(reason="not open access according to Unpaywall")
    best = data.get("best_oa_location") or {}
    locations = [best] + [loc for loc in data.get("oa_locations") or [] if loc is not best]
    for location in locations:
        if isinstance(location, dict) and location.get("url_for_pdf"):
            return Lookup(pdf_url=str(location["url_for_pdf"]))
    landing = str(best.get("url") or "") if isinstance(best, dict) else ""
    return Lookup(
        reason="open access according to Unpaywall, but only a web page, no PDF link",
        landing_url=landing,
    )
