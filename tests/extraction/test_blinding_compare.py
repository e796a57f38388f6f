"""The extraction pages apply the one blinding rule: no entry shows where one's own is due."""

import pytest
from django.urls import reverse

from tests.blinding import ENTRY_MARK, extract


def _pages(client, user, review, form, study):
    client.force_login(user)
    args = [review.slug, form.pk, study.pk]
    return {
        "compare": client.get(reverse("extraction:study-compare", args=args)),
        "extract": client.get(reverse("extraction:study-extract", args=args)),
        "form": client.get(reverse("extraction:form-detail", args=[review.slug, form.pk])),
    }


def test_an_admin_who_is_the_second_extractor_compares_only_once_their_entry_is_in(
    client, review, review_admin, dual_form, study, ritas_entry
):
    draft = extract(review_admin, review, dual_form, study, submit=False)
    pages = _pages(client, review_admin, review, dual_form, study)
    assert pages["compare"].status_code == 403
    assert "blinded" in pages["compare"].content.decode()
    for name, response in pages.items():
        assert ENTRY_MARK not in response.content.decode(), name
    extract(review_admin, review, dual_form, study, submit=True, revision=draft.revision)
    compare = _pages(client, review_admin, review, dual_form, study)["compare"]
    assert compare.status_code == 200 and ENTRY_MARK in compare.content.decode()


@pytest.mark.parametrize("role", ["owner", "review_admin"])
def test_an_owner_or_admin_who_may_take_the_free_second_place_cannot_compare_yet(
    client, request, review, dual_form, study, ritas_entry, role
):
    pages = _pages(client, request.getfixturevalue(role), review, dual_form, study)
    assert pages["compare"].status_code == 403
    for name, response in pages.items():
        assert ENTRY_MARK not in response.content.decode(), name


def test_an_owner_who_is_not_an_extractor_compares_once_both_places_are_taken(
    client, review, owner, review_admin, dual_form, study, ritas_entry
):
    extract(review_admin, review, dual_form, study, submit=False)
    compare = _pages(client, owner, review, dual_form, study)["compare"]
    assert compare.status_code == 200 and ENTRY_MARK in compare.content.decode()


def test_an_analyst_compares_while_the_second_entry_is_a_draft(
    client, review, review_admin, analyst, dual_form, study, ritas_entry
):
    extract(review_admin, review, dual_form, study, submit=False)
    client.force_login(analyst)
    compare = client.get(
        reverse("extraction:study-compare", args=[review.slug, dual_form.pk, study.pk])
    )
    body = compare.content.decode()
    assert compare.status_code == 200 and ENTRY_MARK in body and "adam&#x27;s entry" in body
