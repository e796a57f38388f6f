"""Why a PubMed search failed, in a sentence a reviewer understands. Pure: no Django.

The Entrez client's errors name the request, the try and the socket error
("esearch 'x' failed after 2 tries: gaierror: [Errno -2] Name or service not known"), which is
what an operator needs and nothing a reviewer can act on. ``search_failure_explain`` sorts an
exception into a kind, says whether waiting could cure it (the task then tries again later), and
gives the sentence for the page; the technical text is kept beside it, folded away.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from urllib.error import HTTPError, URLError

from reviewapp.integrations.entrez import (
    EntrezError,
    EntrezLimitError,
    EntrezReplyError,
    EntrezRequestError,
)
from reviewapp.literature.parsers import FileUnreadable

# NCBI ERROR replies that come from its side being busy or its history expiring: a fresh run
# (a new esearch, a new WebEnv) usually goes through.
TRANSIENT_NCBI_ERRORS = (
    "backend",
    "temporarily",
    "unavailable",
    "unable to obtain query",
    "timeout",
    "try again",
)


@dataclass(frozen=True)
class SearchFailure:
    kind: str  # unreachable, timeout, busy, server, refused, reply, limit, internal
    transient: bool  # waiting could cure it: the search is retried by itself
    sentence: str  # what happened, for the reviewer; no trailing advice
    detail: str  # the technical text, for an operator


def _root_cause(exc: BaseException) -> BaseException:
    cause: BaseException = exc
    seen = set()
    while id(cause) not in seen:
        seen.add(id(cause))
        inner = (
            cause.reason
            if isinstance(cause, URLError) and not isinstance(cause, HTTPError)
            else None
        )
        if isinstance(inner, BaseException):
            cause = inner
            continue
        if cause.__cause__ is not None:
            cause = cause.__cause__
            continue
        break
    return cause


def search_failure_explain(exc: BaseException) -> SearchFailure:
    """Sort a search's exception into a kind with the reviewer's sentence (see module doc)."""
    detail = f"{type(exc).__name__}: {exc}" if not isinstance(exc, EntrezError) else str(exc)
    if isinstance(exc, EntrezLimitError):
        return SearchFailure(
            "limit",
            False,
            "PubMed holds more records for this query than it lets us fetch, even split by "
            "publication date. Narrow the query or its dates",
            detail,
        )
    status = getattr(exc, "status", None)
    if isinstance(exc, EntrezRequestError) and status is not None:
        if status == 429:
            return SearchFailure(
                "busy", True, "PubMed asked us to slow down (too many requests)", detail
            )
        if status >= 500:
            return SearchFailure(
                "server", True, f"PubMed's servers answered with an error (HTTP {status})", detail
            )
        return SearchFailure(
            "refused",
            False,
            f"PubMed refused the request (HTTP {status}); the query may need changing",
            detail,
        )
    if isinstance(exc, EntrezReplyError):
        text = str(exc)
        if "NCBI replied with an error:" in text:
            said = text.split("NCBI replied with an error:", 1)[1].strip()
            transient = any(word in said.lower() for word in TRANSIENT_NCBI_ERRORS)
            return SearchFailure(
                "refused" if not transient else "server",
                transient,
                f"PubMed answered with an error: “{said[:200]}”",
                detail,
            )
        return SearchFailure(
            "reply",
            True,
            "PubMed's answer arrived incomplete or garbled",
            detail,
        )
    if isinstance(exc, FileUnreadable):
        return SearchFailure("reply", False, "PubMed's answer could not be read", detail)
    cause = _root_cause(exc)
    if isinstance(cause, socket.gaierror):
        return SearchFailure(
            "unreachable",
            True,
            "PubMed could not be reached (its address could not be looked up)",
            detail,
        )
    if isinstance(cause, (TimeoutError, socket.timeout)):
        return SearchFailure("timeout", True, "PubMed did not answer in time", detail)
    if isinstance(cause, ssl.SSLError):
        return SearchFailure(
            "unreachable", True, "PubMed could not be reached (a secure connection failed)", detail
        )
    if isinstance(cause, (ConnectionError, http.client.HTTPException, OSError)):
        return SearchFailure("unreachable", True, "PubMed could not be reached", detail)
    return SearchFailure("internal", False, "The search stopped on an internal error", detail)


def _clock(moment: datetime) -> str:
    return f"{moment:%H:%M} UTC"


def search_failure_message(
    failure: SearchFailure, *, retry_at: datetime | None = None, tries: int = 1
) -> str:
    """The whole sentence for the page: what happened, then what comes next.

    ``retry_at``: when the search will be tried again by itself (None: it will not be).
    """
    if retry_at is not None:
        return (
            f"{failure.sentence}; the search will be retried at {_clock(retry_at)}, "
            "or you can run it again now."
        )
    tried = f"tried {tries} times, " if tries > 1 else ""
    if failure.kind == "limit":
        return f"{failure.sentence}; nothing was added."
    if failure.kind == "refused":
        return f"{failure.sentence}; nothing was added. Check the query, then run it again."
    if failure.kind == "internal":
        return f"{failure.sentence}; nothing was added. It can be run again."
    return f"{failure.sentence}; {tried}nothing was added. Run it again later."
