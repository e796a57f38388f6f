"""The demo review's pages under the Content-Security-Policy in chromium: nothing refused, htmx works.

Every page is opened with a listener for `securitypolicyviolation` events (installed before any of
the page's own scripts) and the console is watched for CSP errors; either one fails the test.
Screenshots at desktop and phone widths go to test-artifacts/ (csp-*.png).
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from reviewapp.extraction.models import ExtractionForm as Form
from reviewapp.literature.models import Record
from reviewapp.reviews.constants import Role
from reviewapp.reviews.models import Review
from reviewapp.screening.models import Decision, Report, Study
from reviewapp.synthesis.models import Analysis
from tests.browser.conftest import screenshot, wait_for
from tests.factories import PASSWORD, MembershipFactory, RecordFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

DEMO_PASSWORD = "demo-reviewapp"
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
    " at " + e.sourceFile + ":" + e.lineNumber + " " + (e.sample || ""));
});
"""
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


class Watched:
    """A browser context whose pages report every CSP violation and console CSP error."""

    def __init__(self, chromium, base_url, viewport):
        self.context = chromium.new_context(viewport=viewport)
        self.context.set_default_timeout(15_000)
        self.context.add_init_script(WATCH)
        self.base_url = base_url
        self.console: list[str] = []
        self.page = self.context.new_page()
        self.page.on("console", self._console)

    def _console(self, message):
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console.append(text)

    def log_in(self, username, password):
        self.page.goto(f"{self.base_url}{reverse('login')}")
        self.page.fill("input[name=login]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()

    def open(self, path):
        response = self.page.goto(f"{self.base_url}{path}")
        self.page.wait_for_load_state("networkidle")
        return response

    def violations(self) -> list[str]:
        return list(self.page.evaluate("window.__cspViolations || []")) + self.console

    def close(self):
        self.context.close()


@pytest.fixture
def demo(browser_settings):
    call_command("loaddemo", "--allow-production", stdout=StringIO())
    return Review.objects.get(slug="demo")


def demo_pages(demo) -> dict[str, str]:
    slug = demo.slug
    analysis = Analysis.objects.filter(review=demo).first()
    form = Form.objects.filter(review=demo).first()
    study = Study.objects.filter(review=demo).first()
    report = Report.objects.filter(review=demo).exclude(file="").first()
    record = Record.objects.filter(review=demo).first()
    pages = {
        "review-list": reverse("reviews:review-list"),
        "dashboard": reverse("reviews:review-detail", args=[slug]),
        "records": reverse("literature:record-list", args=[slug]),
        "record": reverse("literature:record-detail", args=[slug, record.pk]),
        "sources": reverse("literature:source-list", args=[slug]),
        "duplicates": reverse("literature:duplicate-list", args=[slug]),
        "screen-ta": reverse("screening:screen", args=[slug, "ta"]),
        "conflicts": reverse("screening:conflict-list", args=[slug, "ta"]),
        "full-text": reverse("screening:screen", args=[slug, "ft"]),
        "analyses": reverse("synthesis:analysis-list", args=[slug]),
        "analysis": reverse("synthesis:analysis-detail", args=[slug, analysis.pk]),
        "prisma": reverse("reporting:prisma-detail", args=[slug]),
        "extraction-form": reverse("extraction:form-detail", args=[slug, form.pk]),
        "extraction-study": reverse("extraction:study-extract", args=[slug, form.pk, study.pk]),
        "extraction-compare": reverse("extraction:study-compare", args=[slug, form.pk, study.pk]),
        "downloads": reverse("extraction:download-list", args=[slug]),
        "team": reverse("reviews:member-list", args=[slug]),
        "settings": reverse("reviews:review-settings", args=[slug]),
        "api-token": reverse("api-token"),
    }
    if report is not None:
        pages["full-text"] += f"?record={report.record_id}"
    return pages


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_demo_pages_break_no_rule_of_the_policy(chromium, live_server, demo, viewport):
    browser = Watched(chromium, live_server.url, viewport)
    try:
        browser.log_in("demo", DEMO_PASSWORD)
        refused = {}
        for name, path in demo_pages(demo).items():
            response = browser.open(path)
            assert response.status < 400, f"{name} {path} answered {response.status}"
            assert "content-security-policy" in response.headers
            if name == "analysis":
                # The plots are stored SVG files shown as images: each must load under the
                # policy (a blocked or broken image has no natural size).
                images = browser.page.locator("figure.plot img")
                # Forest and funnel, and the forest plot of the demo's subgroup analysis.
                assert images.count() == 3
                wait_for(
                    browser.page,
                    "Array.from(document.querySelectorAll('figure.plot img')).every(i => i.complete)",
                )
                for i in range(images.count()):
                    width = images.nth(i).evaluate("i => i.naturalWidth")
                    assert width > 0, f"plot {i} did not load"
            if name == "prisma":
                figure = browser.page.locator("figure svg").first
                assert figure.is_visible()
                # The rewritten SVG still draws in colour: its background is white, not black.
                fill = figure.locator("path").first.evaluate("p => getComputedStyle(p).fill")
                assert fill == "rgb(255, 255, 255)", f"{name}: {fill}"
            screenshot(browser.page, f"csp-{name}-{viewport['width']}")
            if browser.violations():
                refused[name] = browser.violations()
            browser.page.evaluate("window.__cspViolations = []")
            browser.console.clear()
        assert not refused
    finally:
        browser.close()


def test_a_keypress_decision_goes_through_htmx_under_the_policy(chromium, live_server, demo):
    # A record of the demo nobody has screened yet, so the owner's queue has one to decide.
    fresh = RecordFactory(review=demo, title="Natalizumab washout and rebound: a cohort")
    browser = Watched(chromium, live_server.url, DESKTOP)
    try:
        browser.log_in("demo", DEMO_PASSWORD)
        browser.open(reverse("screening:screen", args=[demo.slug, "ta"]) + f"?record={fresh.pk}")
        page = browser.page
        shown = int(
            page.locator(".screen-current .record-panel").first.get_attribute("data-record-id")
        )
        before = Decision.objects.filter(record_id=shown, reviewer__username="demo").count()
        # The decision goes by fetch; htmx then refreshes the progress panel (hx-trigger
        # "screening:decided from:body"), which needs htmx running under the policy.
        with page.expect_response(lambda r: "/progress/" in r.url, timeout=20_000) as progress:
            page.keyboard.press("i")
            wait_for(
                page,
                "document.body.getAttribute('data-screening-pending') === '0'"
                " && !document.querySelector('.screen-current.sending')",
            )
        assert progress.value.status == 200
        after = Decision.objects.filter(record_id=shown, reviewer__username="demo")
        assert after.count() == before + 1 and after.last().value == "include"
        screenshot(page, "csp-screening-after-keypress")
        assert not browser.violations()
    finally:
        browser.close()


def test_the_admin_and_the_browsable_api_break_no_rule_of_the_policy(chromium, live_server, demo):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    MembershipFactory(review=demo, user=root, role=Role.ADMIN)  # for the review's API pages
    record = Record.objects.filter(review=demo).first()
    browser = Watched(chromium, live_server.url, DESKTOP)
    try:
        browser.log_in("root", PASSWORD)
        refused = {}
        for path in [
            reverse("admin:index"),
            reverse("admin:literature_record_changelist"),
            reverse("admin:literature_record_change", args=[record.pk]),
            reverse("admin:auth_user_add"),
            reverse("api:review-list"),
            reverse("api:record-list", args=[demo.slug]),
        ]:
            response = browser.open(path)
            assert response.status < 400, f"{path} answered {response.status}"
            if browser.violations():
                refused[path] = browser.violations()
            browser.page.evaluate("window.__cspViolations = []")
            browser.console.clear()
        screenshot(browser.page, "csp-browsable-api")
        assert not refused
    finally:
        browser.close()


def test_the_lockout_message_in_the_browser(chromium, live_server, browser_settings, db):
    UserFactory(username="olivia")
    browser = Watched(chromium, live_server.url, PHONE)
    try:
        for _ in range(5):
            browser.log_in("olivia", "wrong password")
        browser.log_in("olivia", PASSWORD)
        message = browser.page.locator("[data-testid=lockout]")
        assert message.is_visible()
        assert "Logging in is paused until" in message.inner_text()
        assert browser.page.url.endswith(reverse("login"))
        screenshot(browser.page, "csp-login-lockout-390")
        assert not browser.violations()
    finally:
        browser.close()
