"""The review's main pages in a real browser, at 1280x800 and 390x844, as owner, reviewer and
analyst: none is wider than the window, none has a serious accessibility fault (look()), the
header's tabs are one row on a wide screen and a menu on a phone, and a refused htmx request shows
the server's message beside the control that sent it.

On the demo review (reviewapp.demo), the richest data a new user meets. Screenshots land in
test-artifacts/look/ to be looked at.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviewapp.demo.services import DEMO_PASSWORD, demo_load
from reviewapp.extraction.models import ExtractionForm
from reviewapp.literature.models import Record
from reviewapp.reviews.models import Review
from reviewapp.synthesis.models import Analysis
from tests.browser.conftest import wait_for
from tests.browser.look import in_viewport, look

ROLES = {"owner": "demo", "reviewer": "demo-reviewer", "analyst": "demo-analyst"}


def _pages(review: Review, role: str) -> dict[str, str]:
    slug = review.slug
    record = Record.objects.filter(review=review).order_by("pk").first()
    analysis = Analysis.objects.filter(review=review).order_by("pk").first()
    form = ExtractionForm.objects.filter(review=review).order_by("pk").first()
    imported = review.imports.order_by("pk").first()
    pages = {
        "reviews": reverse("reviews:review-list"),
        "overview": reverse("reviews:review-detail", args=[slug]),
        "records": reverse("literature:record-list", args=[slug]),
        "record": reverse("literature:record-detail", args=[slug, record.pk]),
        "duplicates": reverse("literature:duplicate-list", args=[slug]),
        "sources": reverse("literature:source-list", args=[slug]),
        "prisma": reverse("reporting:prisma-detail", args=[slug]),
        "analyses": reverse("synthesis:analysis-list", args=[slug]),
        "analysis": reverse("synthesis:analysis-detail", args=[slug, analysis.pk]),
        "downloads": reverse("extraction:download-list", args=[slug]),
        "team": reverse("reviews:member-list", args=[slug]),
        "extraction": reverse("extraction:form-list", args=[slug]),
        "extraction-form": reverse("extraction:form-detail", args=[slug, form.pk]),
        "import": reverse("literature:import-detail", args=[slug, imported.pk]),
    }
    if role == "owner":
        pages["settings"] = reverse("reviews:review-settings", args=[slug])
        pages["import-new"] = reverse("literature:import-create", args=[slug])
        pages["search-new"] = reverse("literature:search-create", args=[slug])
    return pages


def _fulfil(status: int, content_type: str, body: str):
    def handler(route):
        route.fulfill(status=status, content_type=content_type, body=body)

    return handler


@pytest.fixture
def demo(db):
    return demo_load()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
@pytest.mark.parametrize("role", list(ROLES))
def test_every_main_page_fits_the_window_and_passes_axe(demo, login, live_server, role, viewport):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=ROLES[role])
    page = login(user, password=DEMO_PASSWORD, viewport=viewport)
    failures = []
    for name, url in _pages(demo.review, role).items():
        response = page.goto(live_server.url + url)
        if response.status != 200:
            failures.append(f"{name}: HTTP {response.status}")
            continue
        try:
            look(page, f"{name}-{role}-{viewport}")
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    if role != "owner":
        # The refusal a member meets when typing an address: in the layout too.
        response = page.goto(
            live_server.url + reverse("reviews:review-settings", args=[demo.review.slug])
        )
        assert response.status == 403
        try:
            look(page, f"refused-{role}-{viewport}")
        except AssertionError as exc:
            failures.append(f"403: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db(transaction=True)
def test_on_a_wide_screen_the_tabs_are_one_row_and_the_current_one_is_marked(
    demo, login, live_server
):
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.get(username="demo")
    page = login(owner, password=DEMO_PASSWORD, viewport="wide")
    for url, current in [
        (reverse("reviews:review-detail", args=[demo.review.slug]), "Overview"),
        (reverse("screening:screen", args=[demo.review.slug, "ft"]), "Full text"),
        (reverse("reviews:review-settings", args=[demo.review.slug]), "Settings"),
    ]:
        page.goto(live_server.url + url)
        tabs = page.locator("nav.tabs a")
        assert tabs.count() == 12  # the owner sees every section
        tops = set(tabs.evaluate_all("links => links.map(a => a.offsetTop)"))
        assert len(tops) == 1, f"the tabs wrap into {len(tops)} rows at 1280px"
        marked = page.locator('nav.tabs a[aria-current="page"]')
        assert marked.count() == 1 and marked.inner_text() == current
        assert page.locator(".nav-toggle").is_hidden()

    # A form posted without htmx: its message is at the top of the page, announced.
    page.click("main button[type=submit].primary")
    page.wait_for_load_state()
    message = page.locator("main > .messages .message").first
    assert message.is_visible()
    assert page.locator("main > .messages").get_attribute("role") == "status"
    in_viewport(page, "main > .messages .message")
    look(page, "message-after-save-owner-wide")


@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_sections_fold_into_a_menu_that_opens(demo, login, live_server):
    from django.contrib.auth import get_user_model

    analyst = get_user_model().objects.get(username="demo-analyst")
    page = login(analyst, password=DEMO_PASSWORD, viewport="phone")
    page.goto(live_server.url + reverse("literature:record-list", args=[demo.review.slug]))
    toggle = page.locator(".nav-toggle")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert page.locator("nav.tabs").is_hidden()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.locator("nav.tabs").is_visible()
    assert page.locator('nav.tabs a[aria-current="page"]').inner_text() == "Records"
    # An analyst does not screen: the screening tabs are not offered.
    assert page.locator("nav.tabs a", has_text="Titles & abstracts").count() == 0
    look(page, "menu-open-analyst-phone")
    page.keyboard.press("Escape")
    assert page.locator("nav.tabs").is_hidden()


@pytest.mark.django_db(transaction=True)
def test_a_refused_htmx_request_shows_the_servers_message_beside_its_control(
    demo, login, live_server
):
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.get(username="demo")
    page = login(owner, password=DEMO_PASSWORD, viewport="wide")
    page.goto(live_server.url + reverse("reviews:review-detail", args=[demo.review.slug]))
    # A control the page might hold: it posts to an address that refuses it (a 405: the
    # download address answers POST only with a form, GET not at all - so the GET is refused).
    page.evaluate(
        """url => {
          const b = document.createElement('button');
          b.id = 'probe'; b.textContent = 'Probe';
          b.setAttribute('hx-get', url);
          document.querySelector('main h1').after(b);
          htmx.process(b);
        }""",
        reverse("extraction:export-detail", args=[demo.review.slug, 999999]),
    )
    page.click("#probe")
    wait_for(page, "!!document.querySelector('#probe + .request-error[role=alert]')")
    text = page.locator("#probe + .request-error").inner_text()
    assert "no longer there" in text and "404" in text, text

    # A lost connection: the message offers a retry that sends the same request again.
    sent = []
    page.route("**/lost-probe/", lambda route: (sent.append(route.request.url), route.abort()))
    page.evaluate(
        """() => {
          const b = document.createElement('button');
          b.id = 'lost'; b.textContent = 'Lost';
          b.setAttribute('hx-get', '/lost-probe/');
          document.querySelector('main h1').after(b);
          htmx.process(b);
        }"""
    )
    page.click("#lost")
    wait_for(page, "!!document.querySelector('#lost + .request-error button.request-retry')")
    assert "Connection lost" in page.locator("#lost + .request-error").inner_text()
    look(page, "htmx-errors-wide")
    page.click("#lost + .request-error button.request-retry")
    wait_for(page, "!!document.querySelector('#lost + .request-error button.request-retry')")
    assert len(sent) == 2

    # The next success clears the message.
    page.unroute("**/lost-probe/")
    page.route("**/lost-probe/", lambda route: route.fulfill(status=200, body="<span>ok</span>"))
    page.click("#lost")
    wait_for(page, "!document.querySelector('#lost + .request-error')")

    # A short fragment is the server's own message; a long page becomes a sentence with the
    # status; inside [data-own-errors] the page's own script is left to say it.
    replies = {
        "short": (422, "text/html", "<p>Only PDF files can be uploaded (got report.docx).</p>"),
        "long": (500, "text/html", "<div>" + "Traceback line<br>" * 200 + "</div>"),
        "own": (422, "text/plain", "Handled by the page"),
    }
    for name, reply in replies.items():
        page.route(f"**/probe-{name}/", _fulfil(*reply))
    page.evaluate(
        """() => {
          const own = document.createElement('div');
          own.setAttribute('data-own-errors', '');
          document.querySelector('main h1').after(own);
          for (const name of ['short', 'long', 'own']) {
            const b = document.createElement('button');
            b.id = 'probe-' + name; b.textContent = name;
            b.setAttribute('hx-post', '/probe-' + name + '/');
            (name === 'own' ? own : document.querySelector('main h1')).after(b);
            if (name === 'own') own.appendChild(b);
            htmx.process(b);
          }
        }"""
    )
    page.click("#probe-short")
    wait_for(page, "!!document.querySelector('#probe-short + .request-error')")
    assert page.locator("#probe-short + .request-error").inner_text() == (
        "Only PDF files can be uploaded (got report.docx)."
    )
    page.click("#probe-long")
    wait_for(page, "!!document.querySelector('#probe-long + .request-error')")
    text = page.locator("#probe-long + .request-error").inner_text()
    assert "Something went wrong on our side" in text and "500" in text
    assert "Traceback" not in text
    page.click("#probe-own")
    page.wait_for_timeout(500)
    assert page.locator("[data-own-errors] .request-error").count() == 0
