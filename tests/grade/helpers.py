"""An analysis with a stored result, as the synthesis services store one, for the GRADE tests."""

from reviewapp.synthesis.models import Analysis, AnalysisResult
from reviewapp.synthesis.services import compute
from reviewapp.synthesis.stats.bias import regression_test
from reviewapp.synthesis.stats.io import effects_from_rows

# Six BCG vaccine trials (metafor's dat.bcg): TB cases and non-cases, vaccinated then controls.
BCG_ROWS = [
    {"study": "Aronson 1948", "ai": "4", "bi": "119", "ci": "11", "di": "128"},
    {"study": "Ferguson & Simes 1949", "ai": "6", "bi": "300", "ci": "29", "di": "274"},
    {"study": "Rosenthal 1960", "ai": "3", "bi": "228", "ci": "11", "di": "209"},
    {"study": "Hart & Sutherland 1977", "ai": "62", "bi": "13536", "ci": "248", "di": "12619"},
    {"study": "Frimodt-Moller 1973", "ai": "33", "bi": "5036", "ci": "47", "di": "5761"},
    {"study": "Stein & Aronson 1953", "ai": "180", "bi": "1361", "ci": "372", "di": "1079"},
]


def analysis_with_result(review, owner, *, rows=None, measure="RR", name="BCG and TB"):
    """A random-effects analysis of ``rows`` with its result stored (and Egger's test)."""
    rows = rows or BCG_ROWS
    analysis = Analysis.objects.create(
        review=review,
        name=name,
        outcome="Tuberculosis",
        measure=measure,
        method="REML",
        options={"time_point": "end of follow-up"},
        created_by=owner,
    )
    effects, pooled = compute(rows, analysis, ratio=False)
    egger = regression_test(
        effects_from_rows(rows, measure, ratio=False, source="test"), method="REML", hksj=False
    )
    AnalysisResult.objects.create(
        analysis=analysis,
        inputs={"rows": rows, "ratio": False},
        inputs_digest="-",
        results={"pooled": pooled.to_dict(), "egger": egger.to_dict()},
        computed_by=owner,
        studies_count=len(rows),
    )
    return analysis
