"""Matplotlib SVG made fit to inline in a page whose Content-Security-Policy forbids inline styles.

Matplotlib writes its drawing attributes as `style="fill: #fff; stroke: #000"` and one `<style>`
element (`*{stroke-linejoin: round; stroke-linecap: butt}`); a policy without 'unsafe-inline' in
style-src blocks both, and the plots lose their colours and fonts. Every property matplotlib uses
is also an SVG presentation attribute, so the same drawing is written with attributes instead
(`fill="#fff" stroke="#000"`) and the `<style>` rule moves to the root `<svg>`, from where these
inherited properties reach every element that does not set its own. The SVG stays inline, so the
PRISMA diagram's boxes remain links. Pure: no Django import.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

# SVG 1.1 presentation attributes (https://www.w3.org/TR/SVG11/propidx.html) matplotlib may write.
PRESENTATION = frozenset(
    {
        "alignment-baseline",
        "baseline-shift",
        "clip-path",
        "clip-rule",
        "color",
        "display",
        "dominant-baseline",
        "fill",
        "fill-opacity",
        "fill-rule",
        "font-family",
        "font-size",
        "font-stretch",
        "font-style",
        "font-variant",
        "font-weight",
        "letter-spacing",
        "mask",
        "opacity",
        "stroke",
        "stroke-dasharray",
        "stroke-dashoffset",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-miterlimit",
        "stroke-opacity",
        "stroke-width",
        "text-anchor",
        "text-decoration",
        "visibility",
        "word-spacing",
        "writing-mode",
    }
)
_RULE = re.compile(r"\*\s*\{([^}]*)\}")


class SvgStyleError(ValueError):
    """The SVG uses a style the page could not show without 'unsafe-inline'."""


def _declarations(css: str) -> dict[str, str]:
    pairs = {}
    for declaration in css.split(";"):
        name, colon, value = declaration.partition(":")
        if colon and name.strip():
            pairs[name.strip().lower()] = value.strip()
    return pairs


def _apply(element: ET.Element, declarations: dict[str, str]) -> None:
    unknown = set(declarations) - PRESENTATION
    if unknown:
        raise SvgStyleError(
            f"<{element.tag.rsplit('}', 1)[-1]}> is styled with {', '.join(sorted(unknown))}, "
            "which has no SVG presentation attribute."
        )
    for name, value in declarations.items():
        element.set(name, value)


def svg_for_inline(data: bytes) -> str:
    """The `<svg>` element of a matplotlib SVG file, with styles as presentation attributes."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(data)
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == f"{{{SVG_NS}}}metadata":
                parent.remove(child)  # authoring tool and date: nothing a reader sees
            elif child.tag == f"{{{SVG_NS}}}style":
                css = child.text or ""
                if _RULE.sub("", css).strip():
                    raise SvgStyleError(f"The SVG's <style> holds rules other than '*': {css!r}")
                for rule in _RULE.findall(css):
                    _apply(root, _declarations(rule))
                parent.remove(child)
    for element in root.iter():
        style = element.attrib.pop("style", None)
        if style is not None:
            _apply(element, _declarations(style))
    return ET.tostring(root, encoding="unicode")
