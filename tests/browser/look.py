"""What every page must pass in a real browser, at the widths reviewers use.

``look(page, name)`` checks the page as it stands: nothing wider than the viewport (no sideways
scroll on a phone), no critical or serious accessibility violation found by axe-core (vendored in
tests/browser/vendor/, injected through the DevTools protocol because the app's
Content-Security-Policy refuses injected script tags), and keeps a screenshot in
test-artifacts/look/ to be looked at by a person before a page is called done.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.browser.conftest import ARTIFACTS

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
# What a reviewer meets; "moderate"/"minor" findings are reported in the message but do not fail.
FAILING_IMPACTS = ("critical", "serious")


def look(page, name: str, *, axe: bool = True, exclude: tuple[str, ...] = ()) -> None:
    """Screenshot ``page`` and fail on sideways overflow or a serious accessibility violation.

    ``exclude``: CSS selectors axe must skip (third-party widgets we do not own, e.g. a vendored
    viewer); say why at the call.
    """
    width = page.viewport_size["width"]
    height = page.viewport_size["height"]
    folder = ARTIFACTS / "look"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}-{width}x{height}.png"), full_page=True)
    page.screenshot(path=str(folder / f"{name}-{width}x{height}-viewport.png"), full_page=False)
    overflow = page_overflow(page)
    assert not overflow, f"{name} at {width}px is wider than the viewport: {overflow}"
    if axe:
        problems = axe_violations(page, exclude=exclude)
        assert not problems, f"{name} at {width}px: accessibility violations:\n" + "\n".join(
            problems
        )


def page_overflow(page) -> list[str]:
    """The elements that stick out to the right of the viewport (empty when the page fits)."""
    return page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          if (document.documentElement.scrollWidth <= width + 1) return [];
          // Inside a box that clips or scrolls and itself fits: it widens nothing (a wide
          // table in its scrolling wrapper, a long title cut with an ellipsis).
          // An absolutely placed element escapes the clipping of boxes up to its positioned
          // ancestor (a visually hidden label in a scrolled table does stick out).
          const clipped = el => {
            const own = getComputedStyle(el).position;
            if (own === 'fixed') return false;
            let escaping = own === 'absolute';
            for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
              const style = getComputedStyle(a);
              if (escaping && style.position !== 'static') escaping = false;  // its container
              if (!escaping && style.overflowX !== 'visible' &&
                  a.getBoundingClientRect().right <= width + 1) return true;
            }
            return false;
          };
          const out = [];
          for (const el of document.body.querySelectorAll('*')) {
            const box = el.getBoundingClientRect();
            if (box.right > width + 1 && box.width > 0 && !clipped(el)) {
              // Report the outermost culprits only: a child of a reported element adds nothing.
              if (!out.some(o => o.el.contains(el))) {
                out.push({el, text: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                  (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
                  ' right=' + Math.round(box.right)});
              }
            }
          }
          return out.slice(0, 8).map(o => o.text);
        }"""
    ) or (
        []
        if page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"
        )
        else ["document.scrollWidth > viewport (no single culprit found)"]
    )


def axe_violations(page, *, exclude: tuple[str, ...] = ()) -> list[str]:
    """axe-core's critical and serious violations on the page, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    context = json.dumps({"exclude": [[selector] for selector in exclude]} if exclude else None)
    result = page.evaluate(
        f"""async () => {{
          const context = {context};
          const r = await window.axe.run(context || document, {{resultTypes: ['violations']}});
          return r.violations.map(v => ({{id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}}));
        }}"""
    )
    return [
        f"[{v['impact']}] {v['id']}: {v['help']} at {', '.join(v['nodes'])}"
        for v in result
        if v["impact"] in FAILING_IMPACTS
    ]


def in_viewport(page, selector: str) -> None:
    """Fail unless the (first visible) element matching ``selector`` is wholly on screen now,
    without scrolling."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not visible"
    view = page.viewport_size
    assert box["y"] >= 0 and box["y"] + box["height"] <= view["height"] + 0.5, (
        f"{selector} is outside the viewport vertically: top={box['y']:.0f} "
        f"bottom={box['y'] + box['height']:.0f}, viewport height {view['height']}"
    )
    assert box["x"] >= 0 and box["x"] + box["width"] <= view["width"] + 0.5, (
        f"{selector} is outside the viewport horizontally: left={box['x']:.0f} "
        f"right={box['x'] + box['width']:.0f}, viewport width {view['width']}"
    )
