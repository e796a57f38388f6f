"""Progress of background work, visible to the page while the work's own transaction is open.

An import writes all its records in one transaction so that a failure leaves nothing behind, so a
progress column in that transaction would stay invisible until the end. Progress goes to the cache
instead (Redis whenever REDIS_URL is set, shared by web and worker processes); the row keeps the
final counts.
"""

from django.core.cache import cache

TIMEOUT = 60 * 60 * 6


def _key(kind: str, pk: int) -> str:
    return f"progress:{kind}:{pk}"


def progress_write(kind: str, pk: int, *, done: int, total: int | None = None) -> None:
    """Record that `done` of `total` items of job `kind`/`pk` are through."""
    cache.set(_key(kind, pk), {"done": done, "total": total}, TIMEOUT)


def progress_read(kind: str, pk: int) -> dict | None:
    """The last progress written for a job, or None when none was (or it has expired)."""
    return cache.get(_key(kind, pk))
