"""The API's pages for people in chromium at both widths: /api/, the schema page and Swagger UI
at /api/docs/, which must render (its operations listed, one opened) with no CSP refusal."""

import pytest
from django.urls import reverse

from tests.browser.conftest import wait_for
from tests.browser.look import look
from tests.browser.test_csp_browser import Watched
from tests.factories import PASSWORD, MembershipFactory, UserFactory, review_make

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"wide": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("width", ["wide", "phone"])
@pytest.mark.parametrize("role", ["owner", "reviewer", "analyst"])
def test_the_api_pages_render_under_the_policy(
    chromium, live_server, browser_settings, width, role
):
    user = UserFactory(username=f"api-{role}")
    if role == "owner":
        review_make(owner=user, title="Statins after stroke")
    else:
        MembershipFactory(review=review_make(title="Statins after stroke"), user=user, role=role)
    browser = Watched(chromium, live_server.url, VIEWPORTS[width])
    try:
        browser.log_in(user.username, PASSWORD)
        page = browser.page

        assert browser.open(reverse("api:root")).status == 200
        assert page.locator("h1").inner_text() == "The reviewapp API"
        assert page.locator("a", has_text="Statins after stroke").count() >= 1
        look(page, f"api-root-{role}-{width}")

        assert browser.open(reverse("api:schema")).status == 200
        assert "openapi: 3.0.3" in page.locator("pre.api-schema").inner_text()
        look(page, f"api-schema-{role}-{width}")

        assert browser.open(reverse("api:docs")).status == 200
        wait_for(page, "document.querySelectorAll('.opblock').length >= 7", timeout=20)
        operations = page.locator(".opblock-summary-path").all_inner_texts()
        assert "/api/reviews/{slug}/records/" in [o.replace("\u200b", "") for o in operations]
        page.locator(".opblock-summary-control").first.click()
        wait_for(
            page,
            "document.querySelector('.opblock.is-open .parameters-container, .opblock.is-open .opblock-section') !== null",
        )
        # Swagger UI is a third-party widget: its own markup is checked for overflow, not by axe.
        look(page, f"api-docs-{role}-{width}", exclude=("#swagger-ui",))
        assert not browser.violations()
    finally:
        browser.close()
