"""Cells safe to open in a spreadsheet. Pure: no Django.

A cell starting with =, +, -, @, a tab or a carriage return is run as a formula by Excel and
LibreOffice (CSV injection; OWASP's guidance), so such cells get a leading apostrophe.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """The value, with a leading apostrophe if a spreadsheet would take it for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
