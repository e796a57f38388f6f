"""Database upkeep after bulk writes: fresh planner statistics for the tables a write touched.

PostgreSQL plans every query from the statistics ANALYZE gathers. Autovacuum gathers them on its
own schedule, and where it is off, slow or busy a table that has just received 100,000 rows is
planned as if it were empty: a review's dashboard then took 60 s instead of 0.2 s (issue 13). So
every write of thousands of rows (imports, searches, rebuilds, bulk exclusions) ends with
`tables_analyze` of the tables it wrote.
"""

from __future__ import annotations

import logging

from django.db import connections, models, transaction

logger = logging.getLogger(__name__)

# Writes made in a request analyse only from this many rows: below it autovacuum's own threshold
# (50 rows plus 10% of the table) is soon enough, and the request need not wait for a sample.
ANALYZE_AFTER_ROWS = 1000


def tables_analyze(*tables: type[models.Model] | str, using: str = "default") -> None:
    """ANALYZE the given tables (models or table names) once the current transaction commits.

    PostgreSQL only: SQLite (`make run`) plans without them. After the commit, not inside the
    transaction: an ANALYZE inside it would be counted against the rows the same transaction
    wrote, leaving them "modified since analyze" and autovacuum analysing them again. Only the
    named tables, so the cost is a sample of each (30,000 rows at the default statistics
    target), not a pass over the database. A failure is logged, never raised: the data is
    committed by then, and autovacuum will gather the statistics later.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or not tables:
        return
    names = sorted({table if isinstance(table, str) else table._meta.db_table for table in tables})
    statement = "ANALYZE " + ", ".join(connection.ops.quote_name(name) for name in names)

    def analyze() -> None:
        try:
            with connection.cursor() as cursor:
                if getattr(connection, "pg_version", 0) >= 150000:
                    # This backend reports the rows its transaction wrote to the statistics
                    # views at most once a second; reported after the ANALYZE they would count
                    # as modified since it, and autovacuum would analyse the tables again.
                    cursor.execute("SELECT pg_stat_force_next_flush()")
                cursor.execute(statement)
        except Exception:
            logger.exception("%s failed; autovacuum will gather the statistics later", statement)

    transaction.on_commit(analyze, using=using)
