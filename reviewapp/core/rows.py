"""Reading one review's rows in index order: row values and the review as a range.

``ORDER BY id LIMIT 50`` over one review's rows, written ``WHERE review_id = 7``, lets
PostgreSQL drop ``review_id`` from the order (it is constant) and walk the primary key instead
of the (review_id, id) index, filtering out every other review's rows on the way: with fresh
statistics it often does, and on a database of 50 reviews that means reading 900,000 rows to
show 50. Written as a range, ``review_id >= 7 AND review_id <= 7``, the order keeps the review and only
the (review_id, id) index gives it. The page bounds are row values, ``(review_id, id) > (7, x)``,
which that index answers as one index condition.
"""

from django.db import models
from django.db.models import F, Func, Q, Value
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


def in_review(review_id: int) -> Q:
    """The rows of one review, written so an index on (review_id, ...) gives their order."""
    return Q(review_id__gte=review_id, review_id__lte=review_id)
