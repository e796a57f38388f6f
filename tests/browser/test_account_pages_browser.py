"""The account pages (allauth's, in the app's layout) at both widths: login failures, reset,
sign-up closed, the account page, password, email addresses and two-factor authentication."""

from __future__ import annotations

import pytest

from tests.browser.conftest import VIEWPORTS
from tests.browser.look import look
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_the_account_pages_fit_and_pass_axe(login, chromium, live_server, viewport):
    width, height = VIEWPORTS[viewport]
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", "nobody")
        page.fill("input[name=password]", "wrong")
        page.click("form.account-form button[type=submit]")
        assert "not correct" in page.inner_text(".error-summary")
        look(page, f"account-login-failed-{viewport}")
        for path, name in [
            ("/accounts/password/reset/", "reset"),
            ("/accounts/signup/", "signup-closed"),
        ]:
            page.goto(f"{live_server.url}{path}")
            look(page, f"account-{name}-{viewport}")
    finally:
        context.close()

    user = UserFactory(username=f"uma-{viewport}", email=f"uma-{viewport}@example.org")
    page = login(user, viewport=viewport)
    assert page.locator("nav.account").inner_text().count(user.username) == 1
    for path, name in [
        ("/accounts/", "home"),
        ("/accounts/password/change/", "password"),
        ("/accounts/email/", "email"),
        ("/accounts/2fa/", "2fa"),
        ("/accounts/2fa/totp/activate/", "2fa-activate"),
    ]:
        page.goto(f"{live_server.url}{path}")
        if "/reauthenticate/" in page.url:
            page.fill("input[name=password]", "correct horse battery staple")
            page.click("form.account-form button[type=submit]")
        look(page, f"account-{name}-{viewport}")
