"""The PRISMA page's box listings and drawings on a review taken through the real services."""

import pytest
from django.urls import reverse

from reviewapp.reporting import views
from reviewapp.reporting.selectors import prisma_counts_recount, prisma_box_records
from reviewapp.reporting.services import prisma_manual_set
from tests.conftest import membership_of
from tests.reporting.test_prisma_from_data import prosperini  # noqa: F401 (a fixture)


def _listed(client, url) -> list[int]:
    ids, after = [], None
    for _ in range(100):
        page = client.get(url, {"after": after} if after else {})
        assert page.status_code == 200
        ids += [r.pk for r in page.context["records"]]
        after = page.context["next_after"]
        if after is None:
            return ids
    raise AssertionError("the pages never ended")


def test_each_box_lists_exactly_the_records_it_counts_page_by_page(
    client,
    prosperini,
    owner,
    monkeypatch,  # noqa: F811
):
    monkeypatch.setattr(views, "BOX_PAGE", 40)
    client.force_login(owner)
    recount = prisma_counts_recount(prosperini)
    for box in views.BOX_LABELS:
        url = reverse("reporting:prisma-box", args=[prosperini.slug, box])
        assert _listed(client, url) == sorted(recount.record_ids[box]), box
        assert client.get(url).context["n"] == len(recount.record_ids[box])


def test_an_unknown_box_is_a_404(client, prosperini, owner):  # noqa: F811
    client.force_login(owner)
    url = reverse("reporting:prisma-box", args=[prosperini.slug, "new_studies"])
    assert client.get(url).status_code == 404
    with pytest.raises(ValueError):
        prisma_box_records(prosperini, "new_studies")


def test_a_drawing_is_made_again_when_its_numbers_change(client, prosperini, owner):  # noqa: F811
    client.force_login(owner)
    url = reverse("reporting:prisma-export", args=[prosperini.slug, "svg"])
    first = client.get(url).content
    assert client.get(url).content == first  # the same numbers: the same drawing
    prisma_manual_set(
        membership=membership_of(owner, prosperini),
        values={"previous_studies": 4, "previous_reports": 5},
    )
    changed = client.get(url).content
    assert changed != first
