"""Pages that show the review's counts run a fixed number of queries whatever the review holds
(issue 13): the same number with a few records and no decisions as with more records, votes,
conflicts, resolutions, duplicates, full texts and reports not retrieved.
"""

from __future__ import annotations

import random

import pytest
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviewapp.reviews.constants import Role
from tests.factories import MembershipFactory, UserFactory
from tests.screening.test_counts_kept import World

PAGES = [
    ("reviews:review-detail", []),
    ("reporting:prisma-detail", []),
    ("reporting:prisma-export", ["csv"]),
    ("reporting:prisma-export", ["json"]),
    ("reporting:prisma-export", ["svg"]),
    ("reporting:prisma-box", ["records_screened"]),
    ("reporting:prisma-box", ["dbr_excluded"]),
    ("screening:screen-progress", ["ta"]),
    ("screening:conflict-list", ["ta"]),
    ("screening:conflict-list", ["ft"]),
    ("screening:agreement-csv", []),
    ("api:review-detail", []),
    ("api:prisma", []),
]
# Queries a page runs only when there is something to show, whatever its amount: the conflicts
# page reads the votes of the conflicts listed only when there are some, and the reasons of the
# latest resolutions only when there are some; a box's page reads its ids, their records and
# the merged values of those records (one query for the page) only when the box is not empty. The conflicts page also shows its first conflict in full when there
# is one (its record with its neighbours, its events, their reasons, its notes, the reasons a
# resolver may give), and the merged values of the records of the list, of the one shown in full
# and of the latest resolutions (one query each). Random writes may leave none at one size.
OPTIONAL = {"screening:conflict-list": 9, "reporting:prisma-box": 3}
# Generous caps: what matters is that the number does not grow; these catch a page gone wild.
MAX_QUERIES = 25


def _queries(client, url: str) -> int:
    from django.db import connection

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code in (200, 302), (url, response.status_code)
    return len(captured)


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_a_counts_page_runs_as_many_queries_on_a_bigger_review(
    client, review, owner, name, args, settings
):
    # The screening page's 10-second count cache would hide the second count's queries.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    analyst = MembershipFactory(review=review, user=UserFactory(username="ana"), role=Role.ANALYST)
    world = World(review, owner, random.Random(5))
    # Enough writes that every kind of row a page reads exists (a conflict and a resolution at
    # each stage...): a query that runs only when there is something to read is not growth.
    for _ in range(150):
        world.step()
    url = reverse(name, args=[review.slug, *args])
    users = [owner, world.screeners[1].user, analyst.user]
    small = {}
    for user in users:
        client.force_login(user)
        if client.get(url).status_code == 403:
            continue  # not a page for this role (analysts do not screen)
        small[user] = _queries(client, url)
        assert small[user] <= MAX_QUERIES, (url, small[user])
    for _ in range(5):
        world.new_records()
    for _ in range(300):
        world.step()
    for user in small:
        client.force_login(user)
        _queries(client, url)
        big = _queries(client, url)
        assert abs(big - small[user]) <= OPTIONAL.get(name, 0), (url, user.username, small, big)
