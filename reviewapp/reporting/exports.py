"""PRISMA exports in every format, from counts that have passed the checks."""

from reviewapp.reporting import diagram, prisma

CONTENT_TYPES = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}
FORMATS = tuple(CONTENT_TYPES)


def prisma_export(counts: prisma.PrismaCounts, fmt: str, *, urls=None) -> bytes:
    """The diagram (svg, png, pdf) or the data (csv in the PRISMA2020 template, json).

    Raises prisma.PrismaInconsistent when the counts do not add up: nothing is exported then.
    """
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"'{fmt}' is not an export format; use one of {', '.join(FORMATS)}.")
    prisma.check(counts)
    if fmt == "csv":
        return prisma.to_template_csv(counts).encode("utf-8")
    if fmt == "json":
        return prisma.to_json(counts).encode("utf-8")
    return diagram.render(counts, fmt, urls=urls)
