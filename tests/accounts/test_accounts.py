"""Accounts: reset by email, sign-up policies, verification, two-factor authentication, limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.cache import cache

from reviewapp.mail.models import OutboundEmail
from tests.factories import PASSWORD, UserFactory

LOGIN = "/accounts/login/"
NEW_PASSWORD = "a sturdy passphrase 7"


def log_in(client, login, password=PASSWORD):
    return client.post(LOGIN, {"login": login, "password": password})


def logged_in(client) -> str | None:
    return client.session.get("_auth_user_id")


def mail_to(address: str) -> OutboundEmail:
    # (Read in Python: SQLite has no JSON containment lookup.)
    return [m for m in OutboundEmail.objects.order_by("pk") if address in m.to][-1]


def link(message: OutboundEmail, pattern: str) -> str:
    for url in re.findall(r"https?://[^\s<>\"]+", message.body):
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]
        if re.search(pattern, path):
            return path
    raise AssertionError(f"no link matching {pattern} in {message.body}")


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238 TOTP (SHA-1, 30 s, 6 digits), computed here rather than by allauth."""
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def test_existing_users_log_in_with_their_username_as_before(client, db):
    olivia = UserFactory(username="olivia")  # made by an operator: no address in allauth's table
    assert not EmailAddress.objects.filter(user=olivia).exists()
    response = log_in(client, "olivia")
    assert response.status_code == 302 and logged_in(client) == str(olivia.pk)


def test_a_forgotten_password_is_reset_from_the_emailed_link(client, db):
    olivia = UserFactory(username="olivia", email="olivia@example.org")
    response = client.post("/accounts/password/reset/", {"email": "Olivia@example.org"})
    assert response.status_code == 302
    message = mail_to("olivia@example.org")
    assert message.kind == "password_reset_key" and "[reviewapp]" in message.subject
    reset = client.get(link(message, r"/accounts/password/reset/key/"), follow=True)
    assert reset.status_code == 200
    form_url = reset.redirect_chain[-1][0]
    done = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert log_in(client, "olivia", PASSWORD).status_code == 200  # the old one is refused
    response = log_in(client, "olivia", NEW_PASSWORD)
    assert response.status_code == 302, response.content.decode()[-800:]
    assert logged_in(client) == str(olivia.pk), response["Location"]


def test_an_unknown_address_gets_no_reset_mail_and_no_hint(client, db):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302  # the same answer as for a known address
    assert OutboundEmail.objects.filter(kind="password_reset_key").count() == 0


def test_by_default_sign_up_is_by_invitation_only(client, db):
    page = client.get("/accounts/signup/")
    assert "Sign Up Closed" in page.content.decode() or "closed" in page.content.decode().lower()
    client.post(
        "/accounts/signup/",
        {
            "email": "x@example.org",
            "username": "x",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert not get_user_model().objects.filter(username="x").exists()
    assert "ask a review's owner to invite you" in client.get(LOGIN).content.decode()


def sign_up(client, email, username="nora"):
    return client.post(
        "/accounts/signup/",
        {
            "email": email,
            "username": username,
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )


def test_open_sign_up_needs_the_address_verified_before_the_account_is_used(client, db, settings):
    settings.SIGNUP_POLICY = "open"
    response = sign_up(client, "nora@example.org")
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert not logged_in(client)
    nora = get_user_model().objects.get(username="nora")
    message = mail_to("nora@example.org")
    assert message.kind == "email_confirmation_signup"
    # Until the address is verified, the right password leads to "check your mail", not in.
    response = log_in(client, "nora", NEW_PASSWORD)
    assert response["Location"] == "/accounts/confirm-email/" and not logged_in(client)
    confirm = link(message, r"/accounts/confirm-email/")
    client.post(confirm)
    assert EmailAddress.objects.get(user=nora).verified
    assert log_in(client, "nora@example.org", NEW_PASSWORD).status_code == 302
    assert logged_in(client) == str(nora.pk)


def test_sign_up_open_to_listed_domains_refuses_other_addresses(client, db, settings):
    settings.SIGNUP_POLICY = "domains"
    settings.SIGNUP_EMAIL_DOMAINS = ["uni.example.edu"]
    response = sign_up(client, "nora@gmail.example.com")
    assert response.status_code == 200
    assert "Accounts here are for addresses at uni.example.edu" in response.content.decode()
    assert not get_user_model().objects.filter(username="nora").exists()
    assert sign_up(client, "nora@med.uni.example.edu").status_code == 302
    assert get_user_model().objects.filter(username="nora").exists()


@pytest.fixture
def olivia_logged_in(client, db):
    olivia = UserFactory(username="olivia", email="olivia@example.org")
    assert log_in(client, "olivia").status_code == 302
    return olivia


def test_two_factor_turned_on_asks_for_a_code_at_the_next_login(client, olivia_logged_in):
    # Turning it on asks for the password again (allauth's reauthentication).
    page = client.get("/accounts/2fa/totp/activate/")
    if page.status_code == 302:
        assert page["Location"].startswith("/accounts/reauthenticate/")
        client.post(page["Location"], {"password": PASSWORD})
        page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = client.session["mfa.totp.secret"]
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp(secret)})
    assert response.status_code == 302
    # allauth shows recovery codes once TOTP is on.
    codes_page = client.get("/accounts/2fa/recovery-codes/").content.decode()
    codes = re.findall(r"\b[0-9a-f]{8}\b", codes_page)
    assert len(codes) >= 10
    client.post("/accounts/logout/")

    response = log_in(client, "olivia")
    assert response["Location"] == "/accounts/2fa/authenticate/" and not logged_in(client)
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200 and "Incorrect code" in wrong.content.decode()
    assert not logged_in(client)
    assert client.post("/accounts/2fa/authenticate/", {"code": totp(secret)}).status_code == 302
    assert logged_in(client) == str(olivia_logged_in.pk)

    # A recovery code works once, instead of the app.
    client.post("/accounts/logout/")
    log_in(client, "olivia")
    assert client.post("/accounts/2fa/authenticate/", {"code": codes[0]}).status_code == 302
    client.post("/accounts/logout/")
    log_in(client, "olivia")
    assert client.post("/accounts/2fa/authenticate/", {"code": codes[0]}).status_code == 200
    assert not logged_in(client)


def test_password_reset_mails_are_limited_per_address(client, db, settings):
    cache.clear()
    settings.ACCOUNT_RATE_LIMITS = {"reset_password": "20/m/ip,3/m/key"}
    UserFactory(username="olivia", email="olivia@example.org")
    for _ in range(3):
        assert (
            client.post("/accounts/password/reset/", {"email": "olivia@example.org"}).status_code
            == 302
        )
    response = client.post("/accounts/password/reset/", {"email": "olivia@example.org"})
    assert response.status_code in (200, 429)
    assert OutboundEmail.objects.filter(kind="password_reset_key").count() == 3
    cache.clear()


def test_sign_ups_are_limited_per_address(client, db, settings):
    cache.clear()
    settings.SIGNUP_POLICY = "open"
    settings.ACCOUNT_RATE_LIMITS = {"signup": "2/m/ip"}
    for n in range(2):
        assert sign_up(client, f"n{n}@example.org", f"n{n}").status_code == 302
        client.logout()
    response = sign_up(client, "n9@example.org", "n9")
    assert response.status_code == 429
    assert not get_user_model().objects.filter(username="n9").exists()
    cache.clear()
