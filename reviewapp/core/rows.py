"""Row values in queries: ``(review_id, id) > (7, 1200)`` as one condition."""

from django.db import models
from django.db.models import F, Func, Value
from django.db.models.lookups import GreaterThan, LessThan


class Row(Func):
    """A row value, ``(a, b)``, compared as a whole: PostgreSQL answers ``(review_id, id) > (r, x)``
    from the index on (review_id, id) as one index condition (SQLite understands it too)."""

    template = "(%(expressions)s)"
    output_field = models.Field()


def row_after(fields, values):
    """Rows whose ``fields`` come after ``values`` in that order."""
    return GreaterThan(Row(*[F(f) for f in fields]), Row(*[Value(v) for v in values]))


def row_before(fields, values):
    """Rows whose ``fields`` come before ``values`` in that order."""
    return LessThan(Row(*[F(f) for f in fields]), Row(*[Value(v) for v in values]))
