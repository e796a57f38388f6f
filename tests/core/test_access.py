"""Every review-scoped page is private to the review's members.

The URL list is read from the URLconf, so a page added later is covered without touching this file.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.url_kwargs import URL_KWARGS


def _review_scoped_patterns() -> dict[str, list[str]]:
    """URL name -> its parameters, for every route that has a review slug in it."""
    found = {}

    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern) and p.name:
                route = prefix + str(p.pattern)
                if "<slug:slug>" in route:
                    name = f"{namespace}:{p.name}" if namespace else p.name
                    found[name] = re.findall(r"<(?:\w+:)?(\w+)>", route)

    walk(get_resolver().url_patterns)
    return dict(sorted(found.items()))


ROUTES = _review_scoped_patterns()
REVIEW_URLS = list(ROUTES)


def _url(name, review, owner):
    """The page's address, with each parameter made by tests/url_kwargs.py."""
    params = ROUTES[name]
    missing = [p for p in params if p not in URL_KWARGS]
    assert not missing, f"add a value for {missing} of {name} to tests/url_kwargs.py"
    return reverse(name, kwargs={p: URL_KWARGS[p](review, owner) for p in params})


def test_the_urlconf_has_review_scoped_pages():
    # Guards the introspection itself: if it found nothing, the tests below would prove nothing.
    assert {"reviews:review-detail", "reviews:member-list", "screening:screen"} <= set(REVIEW_URLS)


@pytest.mark.parametrize("name", REVIEW_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_outsider_gets_404(client, outsider, review, records, owner, name, method):
    client.force_login(outsider)
    response = getattr(client, method)(_url(name, review, owner))
    assert response.status_code == 404


@pytest.mark.parametrize("name", REVIEW_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_user_is_sent_to_login(client, review, records, owner, name, method):
    url = _url(name, review, owner)
    response = getattr(client, method)(url)
    if url.startswith("/api/"):
        # The JSON API asks for credentials instead of redirecting to a login page.
        assert response.status_code == 401
        return
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
    response = client.get(_url(name, review, owner))
    # POST-only actions answer 405 to a GET; every other page renders for the owner, or (an
    # export refused because the review is not ready for it) sends them back inside the review.
    if response.status_code == 302:
        assert response["Location"].startswith(f"/reviews/{review.slug}/")
    else:
        assert response.status_code in (200, 405)
