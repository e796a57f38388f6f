"""Analyses added to a pooled outcome, in a real browser at desktop and phone widths: the owner
adds a subgroup analysis, a meta-regression (first without a moderator: refused beside the
control), a sensitivity analysis and a cumulative one; the forest plots carry the RoB 2
columns; reviewers and analysts read the page."""

import pytest
from django.urls import reverse

from reviewapp.synthesis.services import analysis_run
from tests.browser.look import look
from tests.conftest import membership_of
from tests.synthesis.test_analysis_additions import _analysis, bcg_review  # noqa: F401

# base.html's flash messages are a <ul role="status">, which axe reads as <li>s outside a list
# (serious); base.html belongs to the layout helper, reported there. Only those are skipped.
MESSAGES = (".messages",)


def _plots_loaded(page) -> None:
    """Every plot on the page has been fetched and decoded (so the screenshot shows it)."""
    for img in page.locator("figure.plot img").all():
        img.scroll_into_view_if_needed()
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), img.get_attribute("src")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_add_subgroup_regression_sensitivity_and_cumulative_analyses(
    login,
    live_server,
    bcg_review,  # noqa: F811
    owner,
    reviewer,
    analyst,
    viewport,
):
    analysis = _analysis(bcg_review, owner)
    analysis_run(membership=membership_of(owner, bcg_review), analysis=analysis)
    url = live_server.url + reverse(
        "synthesis:analysis-detail", args=[bcg_review.slug, analysis.pk]
    )
    keys = bcg_review.keys
    page = login(owner, viewport=viewport)
    # Each addition recomputes the analysis and draws its plots in the request, on a machine
    # that may be busy: navigations get longer than the default ten seconds.
    page.set_default_timeout(60_000)
    page.goto(url)
    look(page, f"analysis-plain-{viewport}")

    page.select_option("#id_subgroup-by", keys["Allocation"])
    page.click("text=Add subgroup analysis")
    page.wait_for_load_state()
    assert "Subgroup analysis by Allocation" in page.locator("main").inner_text()

    # Refused beside the control, and summarised at the top of the forms.
    page.click("text=Add meta-regression")
    page.wait_for_load_state()
    assert "Choose one or more moderators." in page.locator("#add-metareg").inner_text()
    assert page.locator(".error-summary").is_visible()
    look(page, f"analysis-refused-{viewport}")

    page.check(f"#add-metareg input[value={keys['Latitude']}]")
    page.check(f"#add-metareg input[value={keys['Year']}]")
    page.click("text=Add meta-regression")
    page.wait_for_load_state()
    page.click("text=Add sensitivity analysis")
    page.wait_for_load_state()
    page.select_option("#id_cumulative-by", keys["Year"])
    page.click("text=Add cumulative meta-analysis")
    page.wait_for_load_state()
    text = page.locator("main").inner_text()
    for title in (
        "Subgroup analysis by Allocation",
        "Meta-regression on Year, Latitude",
        "Excluding high risk of bias",
        "Cumulative meta-analysis by Year",
    ):
        assert title in text
    assert "Not computed" not in text
    _plots_loaded(page)
    look(page, f"analysis-additions-owner-{viewport}", exclude=MESSAGES)

    for user in (reviewer, analyst):
        other = login(user, viewport=viewport)
        other.goto(url)
        assert "Cumulative meta-analysis by Year" in other.locator("main").inner_text()
        assert other.locator(".add-analyses").count() == (1 if user == analyst else 0)
        _plots_loaded(other)
        look(other, f"analysis-additions-{user.username}-{viewport}")
