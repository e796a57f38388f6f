"""Shared PRISMA test data: the reference case the counts and diagram tests both draw on.

Prosperini et al. 2019 identified 205 records with one PubMed search, found no duplicates and
included 35 articles. Their intermediate boxes are not used here: the split below (140 records
excluded at title/abstract, 65 reports sought, 2 not retrieved, 63 assessed, 28 excluded for three
reasons) is illustrative only, chosen to be plausible and consistent. The end-to-end test through
the app's services comes later.
"""

from __future__ import annotations

from pathlib import Path

from reviewapp.reporting.prisma import PrismaCounts

TEMPLATE_PATH = (
    Path(__file__).resolve().parents[1] / "fixtures" / "prisma" / ("PRISMA2020_template_PRISMA.csv")
)

REFERENCE_REASONS = {
    "Not a randomised controlled trial": 12,
    "Wrong population": 9,
    "No outcome of interest reported": 7,
}


def reference_counts(*, with_ids: bool = True) -> PrismaCounts:
    """The reference case; with ids, records 1-205 flow through the boxes in order (empty boxes
    need none)."""
    ids = {}
    if with_ids:
        ids = {
            "database_results": range(1, 206),
            "records_screened": range(1, 206),
            "records_excluded": range(1, 141),
            "dbr_sought_reports": range(141, 206),
            "dbr_notretrieved_reports": range(141, 143),
            "dbr_assessed": range(143, 206),
            "dbr_excluded": range(143, 171),
            "new_reports": range(171, 206),
        }
    return PrismaCounts(
        databases={"PubMed": 205},
        duplicates=0,
        records_screened=205,
        records_excluded=140,
        dbr_sought_reports=65,
        dbr_notretrieved_reports=2,
        dbr_assessed=63,
        dbr_excluded=28,
        dbr_excluded_reasons=REFERENCE_REASONS,
        new_studies=35,
        new_reports=35,
        total_studies=35,
        total_reports=35,
        record_ids={box: list(values) for box, values in ids.items()},
    )
