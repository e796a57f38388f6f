"""The header's tabs: which one is the current page's, as the page itself declares it."""

from __future__ import annotations

from django import template
from django.template.loader_tags import BLOCK_CONTEXT_KEY

register = template.Library()


@register.simple_tag(takes_context=True)
def page_section(context) -> str:
    """The section a page declares with ``{% block section %}records{% endblock %}``.

    A view may pass ``section`` in its context instead. The block is read here, before the page's
    content renders, because the header (where the tabs are) comes first in base.html.
    """
    if context.get("section"):
        return str(context["section"])
    block_context = context.render_context.get(BLOCK_CONTEXT_KEY)
    block = block_context.get_block("section") if block_context is not None else None
    if block is None:
        return ""
    return block.nodelist.render(context).strip()
