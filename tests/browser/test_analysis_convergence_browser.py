"""An analysis whose refits or pool do not converge, in a real browser at desktop and phone
widths: the analyst pools outcomes through the page (tests/synthesis/test_convergence.py has the
event counts); where leaving one trial out does not converge the result is shown with a warning
naming the missing part, and a pool that does not converge is refused beside the form, naming
the cause and a way out."""

import pytest
from django.urls import reverse

from reviewapp.reviews.constants import Role
from tests.browser.look import look
from tests.factories import MembershipFactory, review_make
from tests.synthesis.helpers import trials_extract
from tests.synthesis.test_convergence import LOO_FAILS, POOL_FAILS


def _pool(page, url: str) -> None:
    """Fill in the new-analysis form as a person would and press Pool (REML, random effects)."""
    page.goto(url)
    page.fill("#id_name", "Deaths")
    page.select_option("#id_measure", "RR")
    page.select_option("#id_model", "random")
    page.select_option("#id_method", "REML")
    page.click("button:has-text('Pool')")
    page.wait_for_load_state()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_the_analyst_sees_the_missing_refit_named_and_a_non_converging_pool_refused(
    login, live_server, review, owner, analyst, viewport
):
    trials_extract(review, owner, LOO_FAILS)
    refused = review_make(owner=owner, slug="reml-refused")
    MembershipFactory(review=refused, user=analyst, role=Role.ANALYST)
    trials_extract(refused, owner, POOL_FAILS)
    page = login(analyst, viewport=viewport)
    # Pooling runs in the request, with its plots, on a machine that may be busy.
    page.set_default_timeout(60_000)

    _pool(page, live_server.url + reverse("synthesis:analysis-list", args=[review.slug]))
    assert "/analyses/" in page.url and page.locator("h1").inner_text().startswith("Deaths")
    warning = page.locator(".warning", has_text="Leave-one-out could not be computed")
    assert warning.is_visible()
    assert "Fisher scoring for REML did not converge" in warning.inner_text()
    # The main result is kept: the pooled estimate of all five trials is shown.
    assert "5 studies" in page.locator("main").inner_text()
    warning.scroll_into_view_if_needed()
    look(page, f"analysis-refit-missing-{viewport}")

    _pool(page, live_server.url + reverse("synthesis:analysis-list", args=[refused.slug]))
    error = page.locator(".errorlist", has_text="did not converge")
    assert error.is_visible()
    assert "Fisher scoring for REML did not converge" in error.inner_text()
    assert "DL, PM or ML" in error.inner_text()
    error.scroll_into_view_if_needed()
    look(page, f"analysis-pool-refused-{viewport}")
