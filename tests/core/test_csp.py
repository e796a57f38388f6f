"""Content-Security-Policy: the header, and pages written so that it needs no exception."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.urls import reverse

from reviewapp.core.svg import SvgStyleError, svg_for_inline
from reviewapp.reporting.diagram import render_svg
from reviewapp.synthesis.stats import pool
from reviewapp.synthesis.stats.plots import forest_plot, funnel_plot
from tests.reporting import reference_counts
from tests.synthesis.reference import bcg_effects

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
SVG = "{http://www.w3.org/2000/svg}"


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


def test_every_page_carries_the_policy(client, db):
    policy = directives(client.get(reverse("login")))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]  # the nonce only where a page asks for one
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert not any("unsafe" in v for values in policy.values() for v in values)


def test_pages_inside_a_review_carry_it_too(client, review, owner):
    client.force_login(owner)
    response = client.get(reverse("reviews:review-detail", args=[review.slug]))
    assert directives(response)["script-src"] == ["'self'"]


def test_the_browsable_api_styles_its_code_highlighting_with_the_pages_nonce(client, owner):
    client.force_login(owner)
    response = client.get(reverse("api:review-list"), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    html = response.content.decode()
    styles = re.findall(r"<style([^>]*)>", html)
    assert styles == [f' nonce="{nonce}"']
    assert " style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)


# Markup the policy refuses: style attributes and elements, inline scripts, handlers, js: URLs.
REFUSED = [
    (re.compile(r"\sstyle\s*="), "a style attribute"),
    (re.compile(r"<style\b"), "a <style> element"),
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>"), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on* event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    (re.compile(r"hx-on|hx-vals=['\"]js:|hx-vars", re.I), "htmx code in an attribute"),
]


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_no_template_holds_inline_script_or_style(template):
    text = re.sub(
        r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", "", template.read_text(), flags=re.S
    )
    if template.relative_to(TEMPLATES).parts[0] == "rest_framework":
        text = re.sub(r'<style nonce="\{\{ request.csp_nonce \}\}">', "", text)
    found = [what for pattern, what in REFUSED if pattern.search(text)]
    assert not found, f"{template.name} has {', '.join(found)}"


def test_htmx_is_told_not_to_inject_styles_nor_eval(client, db):
    html = client.get(reverse("login")).content.decode()
    assert '"includeIndicatorStyles": false' in html and '"allowEval": false' in html
    css = (TEMPLATES.parent / "static" / "css" / "app.css").read_text()
    assert ".htmx-request .htmx-indicator" in css


def _plots():
    effects = bcg_effects("RR")
    result = pool(effects, model="random", method="REML")
    return {
        "forest": forest_plot(result, "svg", title="BCG"),
        "funnel": funnel_plot(effects, result, "svg"),
        "prisma": render_svg(reference_counts(), urls={"records_screened": "/r/?box=a&b=1"}),
    }


@pytest.mark.parametrize("name", ["forest", "funnel", "prisma"])
def test_inline_plots_keep_their_drawing_without_any_style(name):
    original = _plots()[name]
    assert b"style=" in original  # what matplotlib writes, and the policy would block
    inline = svg_for_inline(original)
    assert "style" not in inline and inline.startswith("<svg")
    root = ET.fromstring(inline)
    before = ET.fromstring(original)
    assert root.get("stroke-linejoin") == "round"
    # Element for element, what the style said is now said by attributes.
    metadata = {el for m in before.iter(f"{SVG}metadata") for el in m.iter()}
    kept = [el for el in before.iter() if el not in metadata and el.tag != f"{SVG}style"]
    pairs = list(zip(kept, root.iter(), strict=True))
    assert all(old.tag == new.tag for old, new in pairs)
    styled = [(old, new) for old, new in pairs if old.get("style")]
    assert len(styled) > 20
    for old, new in styled:
        for declaration in old.get("style").split(";"):
            prop, _, value = declaration.partition(":")
            assert new.get(prop.strip()) == value.strip()


def test_the_prisma_boxes_stay_links_once_inline():
    root = ET.fromstring(svg_for_inline(_plots()["prisma"]))
    hrefs = {a.get("{http://www.w3.org/1999/xlink}href") for a in root.iter(f"{SVG}a")}
    assert hrefs == {"/r/?box=a&b=1"}


def test_a_style_with_no_svg_attribute_is_refused_not_dropped():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><path style="fill: red; filter: blur(2px)"/></svg>'
    with pytest.raises(SvgStyleError, match="filter"):
        svg_for_inline(svg)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><style>path{fill:red}</style></svg>'
    with pytest.raises(SvgStyleError, match="other than"):
        svg_for_inline(svg)
