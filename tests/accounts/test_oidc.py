"""Sign-in for institutions: OpenID Connect against a fake provider running on 127.0.0.1."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from reviewapp.reviews.models import Membership
from reviewapp.reviews.services import invitation_create
from tests.accounts.fake_oidc import CLIENT_ID, CLIENT_SECRET, FakeProvider
from tests.accounts.test_invitations import link_of
from tests.conftest import membership_of
from tests.factories import UserFactory


@pytest.fixture(scope="module")
def provider():
    fake = FakeProvider()
    fake.thread.start()
    yield fake
    fake.server.shutdown()


@pytest.fixture
def institution(provider, settings, db):
    """The site configured as OIDC_* would configure it, pointing at the fake provider."""
    settings.OIDC = {
        "server_url": provider.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "name": "Example University",
        "signup": False,
    }
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [
                {
                    "provider_id": "institution",
                    "name": "Example University",
                    "client_id": CLIENT_ID,
                    "secret": CLIENT_SECRET,
                    "settings": {"server_url": provider.url},
                }
            ],
        }
    }
    return provider


def sign_in(client, provider, claims, next_url=None):
    """Press "Log in with Example University", sign in there as `claims`, come back."""
    provider.next_user = claims
    data = {"process": "login", **({"next": next_url} if next_url else {})}
    response = client.post("/accounts/oidc/institution/login/", data)
    assert response.status_code == 302, response.content[:500]
    assert response["Location"].startswith(f"{provider.url}/authorize?")
    back = urlsplit(provider.authorize(response["Location"]))
    assert back.path == "/accounts/oidc/institution/login/callback/"
    return client.get(f"{back.path}?{back.query}")


def logged_in(client):
    return client.session.get("_auth_user_id")


NORA = {"sub": "u-1001", "email": "nora@uni.example.edu", "email_verified": True, "name": "Nora N"}


def test_the_button_shows_only_when_a_provider_is_configured(client, db, settings, provider):
    assert "institution-login" not in client.get("/accounts/login/").content.decode()
    assert client.post("/accounts/oidc/institution/login/").status_code == 404
    settings.OIDC = {**settings.OIDC, "server_url": provider.url, "name": "Example University"}
    page = client.get("/accounts/login/").content.decode()
    assert "Log in with Example University" in page


def test_an_existing_account_with_the_verified_address_is_logged_in(client, institution):
    nora = UserFactory(username="nora", email="nora@uni.example.edu")
    response = sign_in(client, institution, NORA)
    assert response.status_code == 302
    assert logged_in(client) == str(nora.pk)
    assert SocialAccount.objects.get(user=nora).uid == "u-1001"
    # The provider was asked as OIDC asks: discovery, token (with the secret and PKCE), keys.
    assert {"GET /.well-known/openid-configuration", "POST /token"} <= set(institution.requests)
    # Next time the subject alone finds the account, even with another address.
    client.post("/accounts/logout/")
    sign_in(client, institution, {**NORA, "email": "n.n@uni.example.edu"})
    assert logged_in(client) == str(nora.pk)


def test_an_unverified_address_from_the_provider_does_not_open_an_account(client, institution):
    UserFactory(username="nora", email="nora@uni.example.edu")
    sign_in(client, institution, {**NORA, "email_verified": False})
    assert not logged_in(client)
    assert not SocialAccount.objects.exists()


def test_a_stranger_gets_no_account_while_sign_up_is_by_invitation(client, institution):
    response = sign_in(client, institution, NORA)
    assert not logged_in(client)
    assert "closed" in response.content.decode().lower()
    assert not get_user_model().objects.filter(email="nora@uni.example.edu").exists()


def test_with_oidc_signup_a_stranger_gets_an_account_with_a_verified_address(
    client, institution, settings
):
    settings.OIDC = {**settings.OIDC, "signup": True}
    response = sign_in(client, institution, NORA)
    assert response.status_code == 302
    nora = get_user_model().objects.get(email="nora@uni.example.edu")
    assert logged_in(client) == str(nora.pk)
    assert EmailAddress.objects.get(user=nora).verified
    assert not Membership.objects.filter(user=nora).exists()  # no review until invited


def test_an_invitation_link_lets_the_provider_create_the_account_and_join(
    client, institution, owner, review
):
    invitation_create(
        review=review,
        actor=membership_of(owner, review),
        email="nora@uni.example.edu",
        role="reviewer",
        site_url="http://testserver",
    )
    link = link_of("nora@uni.example.edu")
    page = client.get(link).content.decode()
    assert "Log in with Example University" in page
    response = sign_in(client, institution, NORA, next_url=link)
    assert response["Location"] == link
    nora = get_user_model().objects.get(email="nora@uni.example.edu")
    assert "Join the review as" in client.get(link).content.decode()
    client.post(link)
    assert membership_of(nora, review).role == "reviewer"
