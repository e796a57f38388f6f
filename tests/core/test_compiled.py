"""Querysets compiled once (reviewapp.core.compiled): the same instances as the queryset itself."""

import pytest

from reviewapp.core.compiled import CompiledQuery
from reviewapp.core.permissions import _MEMBERSHIP, membership_get
from reviewapp.reviews.models import Membership, Review
from tests.factories import MembershipFactory, UserFactory, review_make


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_the_membership_is_the_one_the_queryset_gives_with_its_review(owner):
    review = review_make(owner=owner, slug="compiled-one")
    Review.objects.filter(pk=review.pk).update(keywords_include=["natalizumab", "relapse*"])
    other = review_make(owner=owner, slug="compiled-two")
    member = UserFactory()
    MembershipFactory(review=review, user=member, role="reviewer")
    MembershipFactory(review=other, user=member, role="analyst")
    for slug in ("compiled-one", "compiled-two"):
        got = membership_get(user=member, slug=slug)
        expected = Membership.objects.select_related("review").get(review__slug=slug, user=member)
        assert _fields(got) == _fields(expected)
        assert _fields(got.review) == _fields(expected.review)
        # As loaded by the ORM: saved, from this database, the review read with it (no query).
        assert not got._state.adding and got._state.db == "default"
        assert Membership.review.is_cached(got)
    assert membership_get(user=member, slug="compiled-one").review.keywords_include == [
        "natalizumab",
        "relapse*",
    ]


def test_no_row_gives_an_empty_list_and_the_page_a_404(owner):
    from django.http import Http404

    review_make(owner=owner, slug="compiled-three")
    stranger = UserFactory()
    assert _MEMBERSHIP.fetch(slug="compiled-three", user_id=stranger.pk) == []
    assert _MEMBERSHIP.fetch(slug="no-such-review", user_id=owner.pk) == []
    with pytest.raises(Http404):
        membership_get(user=stranger, slug="compiled-three")


def test_a_stand_in_that_is_not_found_once_is_refused_when_compiled(owner):
    review_make(owner=owner, slug="compiled-four")
    twice = CompiledQuery(
        lambda slug: Review.objects.filter(slug=slug) | Review.objects.filter(title=slug),
        slug="stand-in",
    )
    with pytest.raises(ValueError, match="found 2 times"):
        twice.fetch(slug="compiled-four")
    missing = CompiledQuery(lambda slug: Review.objects.filter(slug="x"), slug="stand-in")
    with pytest.raises(ValueError, match="found 0 times"):
        missing.fetch(slug="compiled-four")


def test_a_raw_statement_gives_what_raw_gives_whatever_the_columns_order(owner):
    from reviewapp.core.compiled import RawStatement
    from reviewapp.literature.models import Record
    from tests.factories import RecordFactory

    review = review_make(owner=owner, slug="compiled-raw")
    records = RecordFactory.create_batch(3, review=review)
    Record.objects.filter(pk=records[0].pk).update(
        authors=["Prosperini L", "Kinkel RP"], keywords=["natalizumab"]
    )
    table = Record._meta.db_table
    for sql in (
        f"SELECT * FROM {table} WHERE review_id = %s ORDER BY id",
        # Columns in another order than the model's fields, and one that is no field.
        f"SELECT authors, id, number * 10 AS tenfold, title, review_id, keywords, number "
        f"FROM {table} WHERE review_id = %s ORDER BY id",
    ):
        statement = RawStatement(Record, sql)
        for _ in range(2):  # the second time from the plan worked out the first time
            got = statement.fetch([review.pk])
            expected = list(Record.objects.raw(sql, [review.pk]))
            assert [r.pk for r in got] == [r.pk for r in expected] == [r.pk for r in records]
            for a, b in zip(got, expected, strict=True):
                assert a.get_deferred_fields() == b.get_deferred_fields()
                loaded = [
                    f.attname
                    for f in Record._meta.concrete_fields
                    if f.attname not in a.get_deferred_fields()
                ]
                assert {n: getattr(a, n) for n in loaded} == {n: getattr(b, n) for n in loaded}
                assert getattr(a, "tenfold", None) == getattr(b, "tenfold", None)
    assert statement.fetch([review.pk])[0].authors == ["Prosperini L", "Kinkel RP"]
    assert statement.fetch([review.pk])[0].tenfold == 10 * records[0].number
