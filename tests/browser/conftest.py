"""Browser tests: Playwright drives Debian's chromium (/usr/bin/chromium), headless.

Never a downloaded browser: CI installs chromium with apt-get (.ci/install-browser). Locally the
tests skip, saying why, only when /usr/bin/chromium is absent. Screenshots go to test-artifacts/.
"""

import os
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
VIEWPORTS = {"wide": (1280, 800), "phone": (390, 844)}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def chromium():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/install-browser should have installed it")
        pytest.skip(
            f"{CHROMIUM} is not installed (apt-get install chromium, or run .ci/install-browser)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def _plain_http_session():
    """Plain HTTP for the whole live server: its middleware reads these once, when it starts."""
    from django.test import override_settings

    with override_settings(
        SECURE_SSL_REDIRECT=False, SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False
    ):
        yield


@pytest.fixture(scope="session")
def live_server(_plain_http_session, live_server):
    # pytest-django's live server, started only after plain HTTP is set (see above).
    return live_server


@pytest.fixture
def browser_settings(settings):
    # The live server speaks plain HTTP: cookies must not be Secure-only there.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_SSL_REDIRECT = False
    settings.DEBUG = False
    return settings


@pytest.fixture
def login(chromium, live_server, browser_settings):
    """login(user) -> a logged-in page in its own browser context (its own cookies)."""
    contexts = []

    def _login(user, password="correct horse battery staple", viewport="wide"):
        # "wide" and "phone" are the two widths every page is checked at (tests/browser/look.py);
        # a (width, height) pair is accepted for anything else.
        width, height = VIEWPORTS.get(viewport, viewport)
        context = chromium.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", user.username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state()
        return page

    yield _login
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_for(page, expression: str, timeout: float = 10.0) -> None:
    """Wait until the JavaScript `expression` is true on the page.

    Not page.wait_for_function: Playwright evaluates its predicate with eval(), which the app's
    Content-Security-Policy refuses; page.evaluate goes through the DevTools protocol instead.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {expression}")
        page.wait_for_timeout(50)
