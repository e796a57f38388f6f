import json

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


@register.filter
def keywords_json(review) -> str:
    """The review's highlighted words as JSON, for the PDF viewer to mark (static/js/pdfviewer.js).

    Left for the template to escape: it goes into an attribute."""
    return json.dumps(
        {
            "include": list(getattr(review, "keywords_include", None) or []),
            "exclude": list(getattr(review, "keywords_exclude", None) or []),
        }
    )
