"""A review's extracted data feed an analysis end to end, checked against metafor.

The 13 BCG trials (Colditz et al. 1994; metafor's dat.bcg) are extracted as 2x2 counts through
the real extraction services, then pooled in the app as a random-effects (REML) risk ratio; the
result must equal metafor's, as recorded in tests/fixtures/reference/pooling-bcg.json
(analysis "logRR_REML"), within that file's stated tolerance.
"""

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from reviewapp.core.errors import ServiceError
from reviewapp.screening.models import Study
from reviewapp.synthesis.models import Analysis, AnalysisResult
from reviewapp.synthesis.selectors import analysis_staleness, outcome_choices
from reviewapp.synthesis.services import analysis_create, analysis_run
from tests.conftest import membership_of
from tests.synthesis.helpers import bcg_trials_extract

REFERENCE = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures/reference/pooling-bcg.json").read_text()
)
BCG = REFERENCE["datasets"][0]
EXPECTED = next(a for a in BCG["analyses"] if a["id"] == "logRR_REML")["expected"]
TOLERANCE = 1e-4  # the file's default_abs


@pytest.fixture
def bcg_review(review, owner):
    """The BCG trials extracted by one extractor (so the submitted entry is final)."""
    bcg_trials_extract(review, owner)
    return review


def _create(review, user, **overrides):
    (choice,) = outcome_choices(review)
    options = dict(
        name="TB: BCG vs control",
        outcome_key=choice.value,
        measure="RR",
        model="random",
        method="REML",
    )
    options.update(overrides)
    return analysis_create(membership=membership_of(user, review), **options)


def test_the_outcomes_offered_are_those_with_final_data(bcg_review):
    (choice,) = outcome_choices(bcg_review)
    assert (choice.outcome, choice.group_type, choice.n_studies) == (
        "Tuberculosis",
        "dichotomous",
        13,
    )
    assert choice.measures == ("OR", "RR", "RD")


def test_extracted_data_pooled_in_the_app_match_metafor(bcg_review, owner):
    analysis = _create(bcg_review, owner)
    result = analysis_run(membership=membership_of(owner, bcg_review), analysis=analysis)
    pooled = result.results["pooled"]
    for key in ("estimate", "se", "ci_lb", "ci_ub", "tau2", "pi_lb", "pi_ub"):
        assert pooled[key] == pytest.approx(EXPECTED[key], abs=TOLERANCE), key
    assert pooled["I2"] == pytest.approx(EXPECTED["I2"], abs=0.01)
    assert pooled["k"] == EXPECTED["k"] == len(result.inputs["rows"])
    assert "egger" in result.results and "leave_one_out" in result.results
    # metafor: trimfill(rma(yi, vi, data=dat)) on the BCG trials fills 1 study on the right.
    taf = result.results["trim_and_fill"]
    assert (taf["k0"], taf["side"], taf["k"]) == (1, "right", 14)
    assert taf["estimate"] == pytest.approx(-0.6571, abs=5e-5)


def test_a_result_keeps_its_inputs_and_turns_stale_when_the_data_change(bcg_review, owner):
    me = membership_of(owner, bcg_review)
    analysis = _create(bcg_review, owner)
    result = analysis_run(membership=me, analysis=analysis)
    assert analysis_staleness(analysis, result) == ""
    first_rows = result.inputs["rows"]
    # A study's numbers are corrected after the analysis was run.
    from reviewapp.extraction.models import Extraction

    entry = Extraction.objects.filter(study__label="Aronson 1948").get()
    data = entry.data
    data["outcomes"][0]["arm1_events"] = 5
    Extraction.objects.filter(pk=entry.pk).update(data=data)
    assert "changed" in analysis_staleness(analysis, result)
    # The stored result is untouched; recomputing adds a new one.
    assert AnalysisResult.objects.get(pk=result.pk).inputs["rows"] == first_rows
    newer = analysis_run(membership=me, analysis=analysis)
    assert newer.pk != result.pk and analysis_staleness(analysis, newer) == ""


def test_an_analyst_pools_and_a_reviewer_cannot(client, bcg_review, analyst, reviewer):
    (choice,) = outcome_choices(bcg_review)
    form = {
        "name": "TB",
        "outcome": choice.value,
        "measure": "OR",
        "model": "random",
        "method": "DL",
    }
    client.force_login(reviewer)
    url = reverse("synthesis:analysis-list", args=[bcg_review.slug])
    assert client.post(url, form).status_code == 403
    client.force_login(analyst)
    response = client.post(url, form)
    analysis = Analysis.objects.get(review=bcg_review)
    assert response.status_code == 302
    assert analysis.created_by == analyst and analysis.results.count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "Forest plot" in page and "Aronson 1948" in page
    plot = reverse("synthesis:analysis-plot", args=[bcg_review.slug, analysis.pk, "forest.svg"])
    assert f'<img src="{plot}?result=' in page
    image = client.get(plot)
    assert image["Content-Type"] == "image/svg+xml" and b"Aronson 1948" in image.content


def test_a_measure_the_data_cannot_give_is_refused_by_name(bcg_review, owner):
    with pytest.raises(ServiceError, match="SMD cannot be computed from Tuberculosis"):
        _create(bcg_review, owner, measure="SMD")
    with pytest.raises(ServiceError, match="HKSJ adjustment applies to random-effects"):
        _create(bcg_review, owner, measure="RR", model="fixed", method="MH", hksj=True)


@pytest.mark.parametrize(
    "what", ["forest.svg", "forest.png", "funnel.svg", "funnel.png", "result.json"]
)
def test_each_download_of_a_result(client, bcg_review, owner, analyst, what):
    analysis = _create(bcg_review, owner)
    analysis_run(membership=membership_of(owner, bcg_review), analysis=analysis)
    client.force_login(analyst)
    url = reverse("synthesis:analysis-download", args=[bcg_review.slug, analysis.pk, what])
    response = client.get(url)
    assert response.status_code == 200
    body = response.content
    if what.endswith(".png"):
        assert body.startswith(b"\x89PNG")
    elif what.endswith(".svg"):
        assert b"<svg" in body[:2000]
    else:
        assert json.loads(body)["results"]["pooled"]["k"] == 13


def test_the_metafor_bundle_reproduces_the_analysis_inputs(client, bcg_review, owner):
    analysis = _create(bcg_review, owner, hksj=True)
    result = analysis_run(membership=membership_of(owner, bcg_review), analysis=analysis)
    client.force_login(owner)
    url = reverse("synthesis:analysis-download", args=[bcg_review.slug, analysis.pk, "metafor.zip"])
    archive = zipfile.ZipFile(io.BytesIO(client.get(url).content))
    assert set(archive.namelist()) == {"analysis.csv", "analysis.R"}
    csv_text = archive.read("analysis.csv").decode()
    assert csv_text.splitlines()[0] == "study,ai,bi,ci,di"
    assert len(csv_text.splitlines()) == 1 + len(result.inputs["rows"])
    script = archive.read("analysis.R").decode()
    assert 'method="REML", test="knha"' in script


def test_the_metafor_bundle_neutralises_a_study_label_that_a_spreadsheet_would_run(
    client, bcg_review, owner
):
    Study.objects.filter(review=bcg_review, label__startswith="Aronson").update(
        label='=HYPERLINK("http://evil.example","x")'
    )
    analysis = _create(bcg_review, owner)
    analysis_run(membership=membership_of(owner, bcg_review), analysis=analysis)
    client.force_login(owner)
    url = reverse("synthesis:analysis-download", args=[bcg_review.slug, analysis.pk, "metafor.zip"])
    archive = zipfile.ZipFile(io.BytesIO(client.get(url).content))
    studies = [
        r["study"] for r in csv.DictReader(io.StringIO(archive.read("analysis.csv").decode()))
    ]
    assert '\'=HYPERLINK("http://evil.example","x")' in studies
    assert not any(s.startswith("=") for s in studies)


def test_prisma_counts_the_studies_included_in_meta_analysis(bcg_review, owner):
    from reviewapp.reporting.prisma import check
    from reviewapp.reporting.selectors import prisma_counts_get

    assert prisma_counts_get(bcg_review).total_studies_ma is None
    analysis_run(membership=membership_of(owner, bcg_review), analysis=_create(bcg_review, owner))
    counts = prisma_counts_get(bcg_review)
    check(counts)
    assert (counts.total_studies_ma, counts.total_reports_ma) == (13, 13)
