"""The Extraction page and the error pages, in a real browser, at desktop and phone widths."""

import pytest
from django.urls import reverse

from reviewapp.extraction.models import ExtractionForm
from reviewapp.extraction.services import form_version_save
from tests.browser.conftest import screenshot
from tests.conftest import membership_of
from tests.extraction.helpers import ROWS

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def _no_sideways_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page is {width}px wide in a {viewport}px window"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", SIZES)
def test_the_extraction_page_with_a_form_and_a_refused_page_render_styled(
    login, live_server, review, owner, reviewer, size
):
    form = ExtractionForm.objects.create(review=review, name="Outcomes", extractors_required=2)
    form_version_save(membership=membership_of(owner, review), form=form, items=ROWS)
    page = login(reviewer)
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))

    page.goto(live_server.url + reverse("extraction:form-list", args=[review.slug]))
    assert page.locator("h1").inner_text() == "Data extraction"
    assert page.locator("td.num").first.inner_text() == "v1"
    _no_sideways_scroll(page)
    screenshot(page, f"extraction-forms-{size}")

    response = page.goto(
        live_server.url + reverse("extraction:form-edit", args=[review.slug, form.pk])
    )
    assert response.status == 403
    assert "Your role in this review is reviewer" in page.locator("main").inner_text()
    # The site's stylesheet applied: the top bar has its white background.
    assert page.locator("header.topbar").evaluate("e => getComputedStyle(e).backgroundColor") == (
        "rgb(255, 255, 255)"
    )
    _no_sideways_scroll(page)
    screenshot(page, f"error-403-{size}")

    response = page.goto(live_server.url + "/no-such-page/")
    assert response.status == 404
    _no_sideways_scroll(page)
    screenshot(page, f"error-404-{size}")
