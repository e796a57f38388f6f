"""The look() check itself: it passes a page that fits and fails one that does not."""

import pytest

from tests.browser.look import axe_violations, look, page_overflow


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_the_login_page_passes_look_at_both_widths(
    chromium, live_server, browser_settings, viewport
):
    from tests.browser.conftest import VIEWPORTS

    width, height = VIEWPORTS[viewport]
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        look(page, f"login-{viewport}")
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_look_finds_a_wide_element_and_an_unlabelled_input(chromium, live_server, browser_settings):
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.evaluate(
            """() => {
              const wide = document.createElement('div');
              wide.id = 'too-wide';
              wide.setAttribute('aria-hidden', 'true');
              wide.textContent = 'x';
              wide.style.width = '900px';
              document.body.appendChild(wide);
              const input = document.createElement('input');
              input.id = 'nameless';
              document.querySelector('main').appendChild(input);
            }"""
        )
        assert any("too-wide" in culprit for culprit in page_overflow(page))
        problems = axe_violations(page)
        assert any("label" in problem and "nameless" in problem for problem in problems), problems
    finally:
        context.close()
