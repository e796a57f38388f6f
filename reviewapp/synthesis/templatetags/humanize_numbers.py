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


@register.filter
def pvalue(value):
    """A p-value as journals print it: three decimals, or '< 0.001'."""
    if value is None or value == "":
        return "–"
    value = float(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


# The back-transformation named, and the scale the analysis ran on.
SCALES = {
    "exp": "log",
    "ilogit": "logit",
    "ipft": "Freeman-Tukey double arcsine",
    "ztor": "Fisher's z",
}


@register.filter
def analysis_scale(transform):
    return SCALES.get(transform, transform)


@register.filter
def back(value, transform):
    """An analysis-scale value on the scale of the measure (exp for ratios, and so on)."""
    # The Freeman-Tukey back-transformation needs a sample size the row does not keep.
    if value is None or value == "" or transform == "ipft":
        return None
    from reviewapp.synthesis.stats.transforms import back_transform

    try:
        return float(back_transform(float(value), transform or "none"))
    except (TypeError, ValueError):
        return None
