"""Progress of background work, visible to the page while the work's own transaction is open.

An import writes all its records in one transaction so that a failure leaves nothing behind; its
progress must still reach the page polling for it. So progress goes through a second connection
(the "progress" alias: same database, autocommit). SQLite allows one writer at a time, and with
SQLite tasks run in the request anyway, so there the progress is simply not written mid-way.
"""

from django.db import connections


def progress_write(model, pk: int, **fields) -> None:
    """Set fields of one row outside the current transaction (no-op on SQLite)."""
    if connections["default"].vendor == "sqlite":
        return
    model.objects.using("progress").filter(pk=pk).update(**fields)
