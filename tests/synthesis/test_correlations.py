"""Correlations extracted in the app and pooled as metafor's COR and ZCOR.

The 16 studies of Molloy et al. (2014; metadat ``dat.molloy2014``: conscientiousness and
medication adherence) are entered as r and N through the real extraction services, pooled as
Fisher's z by the service the worker runs, and compared with metafor's documented example as
recorded in tests/fixtures/reference/metafor-tests.json (case "molloy2014_zcor"): the rma() fit
on the z scale and predict(res, transf=transf.ztor) back on the r scale.
"""

import io
import zipfile

import pytest
from django.urls import reverse

from reviewapp.core.errors import ServiceError
from reviewapp.extraction.models import Extraction
from reviewapp.extraction.services import (
    extraction_form_create,
    extraction_save,
    form_version_save,
)
from reviewapp.extraction.validation import entry_clean
from reviewapp.literature.constants import JobStatus
from reviewapp.synthesis import services
from reviewapp.synthesis.inputs import InputError, stats_row
from reviewapp.synthesis.models import Analysis, AnalysisRun
from reviewapp.synthesis.selectors import outcome_choices
from reviewapp.synthesis.services import (
    analysis_compute_request,
    analysis_create,
    analysis_run,
    analysis_run_execute,
)
from tests.conftest import membership_of
from tests.extraction.helpers import study_included
from tests.synthesis.reference import assert_matches, expected, metafor_cases

CASE = metafor_cases()["molloy2014_zcor"]
FIT = expected("molloy2014_zcor", "dat <- escalc")
PREDICTED = expected("molloy2014_zcor", "predict(")
GROUP = "outcomes_adherence"


def _studies():
    data = CASE["data"]
    labels = [f"{a} {y}" for a, y in zip(data["authors"], data["year"], strict=True)]
    return list(zip(labels, data["ri"], data["ni"], strict=True))


@pytest.fixture
def molloy_review(review, owner):
    """The Molloy studies extracted as correlations by one extractor (so each entry is final)."""
    me = membership_of(owner, review)
    form = extraction_form_create(membership=me, name="Study data")
    form_version_save(
        membership=me,
        form=form,
        items=[{"section": "Outcomes", "label": "Adherence", "type": "correlation"}],
    )
    for label, r, n in _studies():
        extraction_save(
            membership=me,
            form=form,
            study=study_included(review, owner, label=label),
            raw={"values": {}, "outcomes": [{"group": GROUP, "r": str(r), "n": str(n)}]},
            expected_revision=0,
            submit=True,
        )
    return review


def _create(review, user, **overrides):
    (choice,) = outcome_choices(review)
    options = dict(
        name="Adherence", outcome_key=choice.value, measure="ZCOR", model="random", method="REML"
    )
    options.update(overrides)
    return analysis_create(membership=membership_of(user, review), **options)


def test_a_correlation_outcome_offers_cor_and_zcor(molloy_review):
    (choice,) = outcome_choices(molloy_review)
    assert choice.group_type == "correlation" and choice.n_studies == len(_studies())
    assert choice.measures == ("COR", "ZCOR")


def test_zcor_pooled_by_the_worker_matches_metafor(molloy_review, owner, monkeypatch):
    # Queue it as a large analysis would be, then run the worker's side of the job.
    monkeypatch.setattr(services, "COMPUTE_INLINE_MAX_STUDIES", 3)
    analysis = _create(molloy_review, owner)
    run = analysis_compute_request(
        membership=membership_of(owner, molloy_review), analysis=analysis
    )
    assert isinstance(run, AnalysisRun)
    run = analysis_run_execute(run_id=run.pk)
    assert run.status == JobStatus.DONE, run.error
    pooled = run.result.results["pooled"]
    assert pooled["k"] == len(_studies()) and pooled["transform"] == "ztor"
    assert_matches(pooled, FIT, where="rma(ZCOR) ")
    assert_matches(pooled, PREDICTED, where="predict(transf.ztor) ")


def test_cor_pools_the_correlations_as_they_are(molloy_review, owner):
    analysis = _create(molloy_review, owner, measure="COR")
    result = analysis_run(membership=membership_of(owner, molloy_review), analysis=analysis)
    pooled = result.results["pooled"]
    assert pooled["transform"] == "none" and pooled["estimate_bt"] == pooled["estimate"]
    by_study = {s["study"]: s["yi"] for s in pooled["studies"]}
    assert by_study == {label: r for label, r, _n in _studies()}


def test_other_measures_are_refused_for_correlations_and_correlations_for_other_data(
    molloy_review, owner
):
    with pytest.raises(ServiceError, match="OR cannot be computed from Adherence"):
        _create(molloy_review, owner, measure="OR")
    with pytest.raises(InputError, match="^Smith 2001: ZCOR cannot be computed from proportion"):
        stats_row("proportion", "ZCOR", "Smith 2001", {"events": 3, "total": 10})


def test_a_correlation_of_one_cannot_be_pooled_and_the_study_is_named(molloy_review, owner):
    # r = 1 is a valid entry (the extraction keeps it) but has no sampling variance.
    entry = Extraction.objects.get(study__label="Bruce et al. 2010")
    data = entry.data
    data["outcomes"][0]["r"] = 1
    Extraction.objects.filter(pk=entry.pk).update(data=data)
    analysis = _create(molloy_review, owner)
    with pytest.raises(ServiceError, match="Bruce et al. 2010"):
        analysis_run(membership=membership_of(owner, molloy_review), analysis=analysis)
    assert not analysis.results.exists()


def test_correlation_entries_are_checked_field_by_field(molloy_review):
    version = Extraction.objects.filter(review=molloy_review).first().form_version
    cleaned = entry_clean(
        version.definition,
        {"outcomes": [{"group": GROUP, "r": "1.2", "n": "3"}]},
        complete=False,
    )
    assert cleaned.errors == {
        f"{GROUP}__0__r": "Correlation (r) must be between -1 and 1 (got 1.2).",
        f"{GROUP}__0__n": "N must be at least 4 for a correlation (got 3).",
    }
    not_a_number = entry_clean(
        version.definition,
        {"outcomes": [{"group": GROUP, "r": "0.3", "n": "lots"}]},
        complete=False,
    )
    assert not_a_number.errors[f"{GROUP}__0__n"].startswith("N must be a whole number")


def test_an_analyst_adds_a_zcor_analysis_on_the_page(client, molloy_review, analyst):
    (choice,) = outcome_choices(molloy_review)
    client.force_login(analyst)
    url = reverse("synthesis:analysis-list", args=[molloy_review.slug])
    response = client.post(
        url,
        {
            "name": "Adherence (z)",
            "outcome": choice.value,
            "measure": "ZCOR",
            "model": "random",
            "method": "REML",
        },
    )
    assert response.status_code == 302
    analysis = Analysis.objects.get(review=molloy_review)
    assert analysis.measure == "ZCOR" and analysis.results.count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "Correlation (Fisher&#x27;s z)" in page
    assert "Pooled r (from Fisher's z)" in page
    assert "Analysed on the Fisher&#x27;s z scale" in page
    plot = reverse("synthesis:analysis-plot", args=[molloy_review.slug, analysis.pk, "forest.svg"])
    assert b"Correlation" in client.get(plot).content
    # The funnel stays on the analysis scale, where it is symmetric.
    funnel = reverse(
        "synthesis:analysis-plot", args=[molloy_review.slug, analysis.pk, "funnel.svg"]
    )
    assert b"Fisher" in client.get(funnel).content
    # GRADE reads the result too: no correlation (r = z = 0) is the null for imprecision.
    grade = reverse("grade:assessment", args=[molloy_review.slug, analysis.pk])
    assert client.get(grade).status_code == 200
    assert client.get(reverse("grade:sof", args=[molloy_review.slug])).status_code == 200
    bundle = reverse(
        "synthesis:analysis-download", args=[molloy_review.slug, analysis.pk, "metafor.zip"]
    )
    archive = zipfile.ZipFile(io.BytesIO(client.get(bundle).content))
    assert archive.read("analysis.csv").decode().splitlines()[0] == "study,ri,ni"
    script = archive.read("analysis.R").decode()
    assert 'escalc(measure="ZCOR", ri=ri, ni=ni, data=dat, slab=study)' in script
    assert "transf=transf.ztor" in script


def test_the_builder_offers_a_correlation_and_the_entry_form_asks_for_r_and_n(
    client, review, review_admin
):
    from reviewapp.extraction.models import ExtractionForm
    from tests.extraction.test_builder_views import draft_post

    form = ExtractionForm.objects.create(review=review, name="Correlations")
    client.force_login(review_admin)
    edit = reverse("extraction:form-edit", args=[review.slug, form.pk])
    assert '<option value="correlation">' in client.get(edit).content.decode()
    data = draft_post([("Outcomes", [{"label": "Adherence", "type": "correlation"}])], op="save")
    assert client.post(edit, data).status_code == 302
    (item,) = form.versions.get().definition["sections"][0]["items"]
    assert (item["key"], item["type"]) == (GROUP, "correlation")
    preview = reverse("extraction:form-preview", args=[review.slug, form.pk])
    page = client.post(preview, draft_post([("Outcomes", [dict(item, label="Adherence")])])).content
    assert f'<label for="id_{GROUP}__0__r">Correlation (r)</label>'.encode() in page
    assert f'<label for="id_{GROUP}__0__n">N</label>'.encode() in page
