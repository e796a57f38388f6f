from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from reviewapp.screening.highlight import segments

register = template.Library()


@register.filter
def highlight(text, review):
    """The text, escaped, with the review's include and exclude keywords marked."""
    if not text:
        return ""
    include = getattr(review, "keywords_include", None) or []
    exclude = getattr(review, "keywords_exclude", None) or []
    if not include and not exclude:
        return escape(text)
    parts = []
    for piece, kind in segments(text, tuple(include), tuple(exclude)):
        if kind is None:
            parts.append(escape(piece))
        else:
            parts.append(f'<mark class="kw-{kind}">{escape(piece)}</mark>')
    return mark_safe("".join(parts))
