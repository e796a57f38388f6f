"""Every review-scoped page is private to the review's members.

The URL list is read from the URLconf, so a page added later is covered without touching this file.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import membership_of


def _review_scoped_patterns():
    found = []

    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace or namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern) and p.name:
                route = prefix + str(p.pattern)
                if "<slug:slug>" in route:
                    found.append(f"{namespace}:{p.name}" if namespace else p.name)

    walk(get_resolver().url_patterns)
    return sorted(set(found))


REVIEW_URLS = _review_scoped_patterns()


def _kwargs(name, review, records, owner):
    values = {
        "slug": review.slug,
        "record_id": records[0].pk,
        "member_id": membership_of(owner, review).pk,
        "stage": "ta",
    }
    for keys in (
        ["slug"],
        ["slug", "record_id"],
        ["slug", "member_id"],
        ["slug", "stage"],
        ["slug", "stage", "record_id"],
    ):
        try:
            return reverse(name, kwargs={k: values[k] for k in keys})
        except Exception:
            continue
    raise AssertionError(f"test_access does not know how to build a URL for {name}")


def test_the_urlconf_has_review_scoped_pages():
    # Guards the introspection itself: if it found nothing, the tests below would prove nothing.
    assert {"reviews:review-detail", "reviews:member-list", "screening:screen"} <= set(REVIEW_URLS)


@pytest.mark.parametrize("name", REVIEW_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_outsider_gets_404(client, outsider, review, records, owner, name, method):
    client.force_login(outsider)
    response = getattr(client, method)(_kwargs(name, review, records, owner))
    assert response.status_code == 404


@pytest.mark.parametrize("name", REVIEW_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_user_is_sent_to_login(client, review, records, owner, name, method):
    url = _kwargs(name, review, records, owner)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_outsider_does_not_see_the_review_in_their_list(client, outsider, review):
    client.force_login(outsider)
    response = client.get(reverse("reviews:review-list"))
    assert response.status_code == 200
    assert review.title not in response.content.decode()


def test_member_sees_the_review_in_their_list(client, reviewer, review):
    client.force_login(reviewer)
    response = client.get(reverse("reviews:review-list"))
    assert review.title in response.content.decode()


@pytest.mark.parametrize("name", REVIEW_URLS)
def test_owner_can_open_every_page(client, owner, review, records, name):
    client.force_login(owner)
    response = client.get(_kwargs(name, review, records, owner))
    # POST-only actions answer 405 to a GET; every other page renders for the owner.
    assert response.status_code in (200, 405)
