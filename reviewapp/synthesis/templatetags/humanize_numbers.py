from django import template

register = template.Library()


@register.filter
def fixed(value, digits=3):
    """A number with a fixed count of decimals; blank for a missing value ('NA' reads as data)."""
    if value is None or value == "":
        return "–"
    try:
        return f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return value
