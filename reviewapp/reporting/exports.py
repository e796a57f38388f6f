"""PRISMA exports in every format, from counts that have passed the checks.

Drawing the diagram (matplotlib) takes from a tenth of a second (SVG) to a second (PNG, PDF),
whatever the review's size. So each drawing is cached under a digest of everything it is drawn
from: the counts (every box, breakdown and hand-entered entry), the links, the format and the
drawing code itself. New counts give a new key, so the cache never needs invalidating and never
serves a drawing of other numbers; a review whose numbers have not changed is drawn once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from collections.abc import Callable, Mapping

from django.core.cache import cache

from reviewapp.reporting import diagram, prisma

CONTENT_TYPES = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}
FORMATS = tuple(CONTENT_TYPES)
# A drawing of given counts never changes, but old ones need not stay forever.
DRAWING_KEPT_FOR = 7 * 24 * 3600
# The drawing code is part of the key: a deployment that draws differently draws again.
_CODE = hashlib.sha256(
    (inspect.getsource(diagram) + inspect.getsource(prisma)).encode()
).hexdigest()[:16]


def _digest(counts: prisma.PrismaCounts, *parts: object) -> str:
    content = json.dumps(
        [dataclasses.asdict(counts), *parts], sort_keys=True, default=str, ensure_ascii=True
    )
    return hashlib.sha256(content.encode()).hexdigest()


def drawing_cached(
    kind: str,
    counts: prisma.PrismaCounts,
    draw: Callable[[], bytes],
    *,
    urls: Mapping[str, str] | None = None,
) -> bytes:
    """draw(), or the bytes it gave before for exactly these counts, links and kind."""
    key = f"prisma:drawing:{_CODE}:{kind}:{_digest(counts, dict(urls or {}))}"
    data = cache.get(key)
    if data is None:
        data = draw()
        cache.set(key, data, DRAWING_KEPT_FOR)
    return data


def prisma_export(counts: prisma.PrismaCounts, fmt: str, *, urls=None) -> bytes:
    """The diagram (svg, png, pdf) or the data (csv in the PRISMA2020 template, json).

    Raises prisma.PrismaInconsistent when the counts do not add up: nothing is exported then.
    """
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"'{fmt}' is not an export format; use one of {', '.join(FORMATS)}.")
    prisma.check(counts)
    if fmt == "csv":
        return prisma.to_template_csv(counts).encode("utf-8")
    if fmt == "json":
        return prisma.to_json(counts).encode("utf-8")
    return drawing_cached(fmt, counts, lambda: diagram.render(counts, fmt, urls=urls), urls=urls)
