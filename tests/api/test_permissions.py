"""The API is read-only and scoped by membership: outsiders get 404, anonymous callers 401."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

REVIEW_SCOPED = [
    "api:review-detail",
    "api:record-list",
    "api:decision-list",
    "api:prisma",
    "api:form-list",
    "api:extraction-list",
]
ROLES = ["owner", "review_admin", "reviewer", "analyst"]


def _url(name, review):
    return reverse(name, args=[review.slug])


@pytest.mark.parametrize("name", REVIEW_SCOPED)
@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_read(api, request, review, records, name, role):
    api.force_authenticate(request.getfixturevalue(role))
    assert api.get(_url(name, review)).status_code == 200


@pytest.mark.parametrize("name", REVIEW_SCOPED)
def test_an_outsider_gets_404(api, outsider, review, name):
    api.force_authenticate(outsider)
    assert api.get(_url(name, review)).status_code == 404


@pytest.mark.parametrize("name", REVIEW_SCOPED)
def test_a_review_that_does_not_exist_looks_the_same_as_one_you_are_not_in(api, owner, name):
    api.force_authenticate(owner)
    assert api.get(reverse(name, args=["no-such-review"])).status_code == 404


@pytest.mark.parametrize("name", REVIEW_SCOPED + ["api:review-list"])
def test_an_anonymous_caller_gets_401(api, review, name):
    url = reverse(name) if name == "api:review-list" else _url(name, review)
    response = api.get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("name", REVIEW_SCOPED)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_is_read_only(api, owner, review, name, method):
    api.force_authenticate(owner)
    assert getattr(api, method)(_url(name, review), {}).status_code == 405


def test_a_token_authenticates(api, analyst, review):
    token = Token.objects.create(user=analyst)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.get(reverse("api:review-list"))
    assert response.status_code == 200
    assert [r["slug"] for r in response.json()["results"]] == [review.slug]
    assert response.json()["results"][0]["role"] == "analyst"


def test_a_wrong_token_is_refused(api, review):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get(_url("api:review-detail", review)).status_code == 401


def test_a_browser_session_authenticates(client, reviewer, review):
    client.force_login(reviewer)
    response = client.get(_url("api:review-detail", review), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["role"] == "reviewer"


def test_the_review_list_holds_only_your_reviews(api, outsider, review):
    api.force_authenticate(outsider)
    assert api.get(reverse("api:review-list")).json()["results"] == []
