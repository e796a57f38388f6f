"""Analyses added to a pooled outcome in the app: subgroups (by an extracted field or by risk of
bias), meta-regression, sensitivity (excluding high risk of bias; leave-one-out) and cumulative.

The 13 BCG trials (Colditz et al. 1994; metafor's dat.bcg) are extracted through the real
extraction services with their allocation, year and latitude, and assessed with RoB 2 (the
trials not randomly allocated judged at high risk); every number the app stores is compared with
metafor's, as recorded in tests/fixtures/reference (pooling-bcg.json and metafor-tests.json).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviewapp.core.errors import ServiceError
from reviewapp.demo.flow import ROB2_LOW_ANSWERS as LOW
from reviewapp.extraction.services import (
    consensus_save,
    extraction_save,
    form_version_save,
)
from reviewapp.riskofbias.services import rob_form_create
from reviewapp.synthesis import additions
from reviewapp.synthesis.models import AnalysisResult
from reviewapp.synthesis.selectors import analysis_staleness, outcome_choices
from reviewapp.synthesis.services import (
    analysis_addition_add,
    analysis_addition_remove,
    analysis_create,
    analysis_run,
)
from reviewapp.synthesis.stats import plots
from tests.conftest import membership_of
from tests.synthesis.helpers import bcg_trials_extract
from tests.synthesis.reference import analyses, assert_matches, bcg, expected, tolerance

TRIALS = bcg()["inputs"]["studies"]
LABELS = [f"{t['author']} {t['year']}" for t in TRIALS]
# Outcome assessors aware of the intervention whose judgement it could sway: D4 (and so the
# trial) at high risk of bias.
HIGH = LOW | {"d4_4_3": "Yes", "d4_4_4": "Yes", "d4_4_5": "Probably yes"}


def _keys(form):
    version = form.versions.order_by("-number").first()
    return {i["label"]: i["key"] for s in version.definition["sections"] for i in s["items"]}


@pytest.fixture
def bcg_review(review, owner):
    """The BCG trials extracted with allocation, year and latitude; RoB 2 in consensus."""
    me = membership_of(owner, review)
    keys, extracted = bcg_trials_extract(review, owner, moderators=True)
    rob = rob_form_create(membership=me, tool="rob2", result="Tuberculosis", assessors=1)
    for trial, study in extracted:
        answers = LOW if trial["alloc"] == "random" else HIGH
        extraction_save(
            membership=me,
            form=rob,
            study=study,
            raw={"values": answers},
            expected_revision=0,
            submit=True,
        )
        consensus_save(
            membership=me, form=rob, study=study, raw={"values": answers}, expected_revision=0
        )
    review.keys = keys
    return review


def _analysis(review, owner):
    (choice,) = outcome_choices(review)
    return analysis_create(
        membership=membership_of(owner, review),
        name="TB: BCG vs control",
        outcome_key=choice.value,
        measure="RR",
        model="random",
        method="REML",
    )


def _add(review, user, analysis, kind, **kwargs):
    analysis.refresh_from_db()
    return analysis_addition_add(
        membership=membership_of(user, review), analysis=analysis, kind=kind, **kwargs
    )


def _pooled_matches(got: dict, want: dict, where: str) -> None:
    for key, value in want.items():
        if isinstance(value, int | float) and key in got:
            assert got[key] == pytest.approx(value, abs=tolerance(key, value)), f"{where} {key}"


@pytest.fixture
def computed(bcg_review, owner):
    """The analysis with one of each addition, computed once."""
    analysis = _analysis(bcg_review, owner)
    keys = bcg_review.keys
    _add(bcg_review, owner, analysis, "subgroup", by=keys["Allocation"])
    _add(bcg_review, owner, analysis, "subgroup", by=additions.ROB)
    _add(bcg_review, owner, analysis, "metareg", moderators=[keys["Latitude"], keys["Year"]])
    _add(bcg_review, owner, analysis, "sensitivity")
    _add(bcg_review, owner, analysis, "cumulative", by=keys["Year"])
    analysis.refresh_from_db()
    result = analysis_run(membership=membership_of(owner, bcg_review), analysis=analysis)
    return (
        analysis,
        result,
        {a["kind"] + str(a["id"]): a for a in result.results["additions"].values()},
    )


def test_subgroups_by_an_extracted_field_match_metafor(computed):
    _analysis, _result, found = computed
    sub = found["subgroup1"]
    want = analyses()["subgroups_by_alloc"]["expected"]
    for level in ("random", "alternate", "systematic"):
        _pooled_matches(sub["groups"][level], want[f"REML_{level}"], level)
    separate = want["test_subgroup_diff_REML_separate_tau2"]
    test = sub["test_for_subgroup_differences"]
    assert test["df"] == separate["df"]
    assert test["Q_between"] == pytest.approx(separate["Q_between"], abs=1e-4)
    assert test["pval"] == pytest.approx(separate["p"], rel=1e-3)
    # metafor: rma(yi, vi, mods = ~ factor(alloc)), one tau² for all subgroups.
    qm = expected("bcg_moderators", "rma(yi, vi, mods = ~ factor(alloc)")
    m = sub["moderator_test"]
    assert m["QM_df"] == [2]
    assert_matches(
        {"QM": m["QM"], "QM_p": m["QM_p"], "tau2": m["tau2"], "R2": m["R2"], "QE": m["QE"]},
        {k: qm[k] for k in ("QM", "QM_p", "tau2", "R2", "QE")},
    )
    assert sub["members"]["alternate"] == ["Frimodt-Moller et al 1973", "Stein & Aronson 1953"]
    assert sub["warnings"] == []


def test_subgroups_by_risk_of_bias_use_the_consensus_judgements(computed):
    _analysis, _result, found = computed
    sub = found["subgroup2"]
    assert sorted(sub["groups"]) == ["High", "Low"]
    assert sub["groups"]["High"]["k"] == 6
    # The trials at low risk are the randomly allocated ones: metafor's subset alloc=="random".
    _pooled_matches(
        sub["groups"]["Low"], analyses()["subgroups_by_alloc"]["expected"]["REML_random"], "Low"
    )


def test_meta_regression_on_two_fields_matches_metafor(computed):
    _analysis, _result, found = computed
    reg = found["metareg3"]
    assert [c["name"] for c in reg["coefficients"]] == ["Intercept", "Latitude", "Year"]
    got = dict(reg)
    for key in ("estimate", "se", "zval", "ci_lb", "ci_ub"):
        got[key] = [c[key] for c in reg["coefficients"]]
    want = dict(expected("bcg_moderators", "rma(yi, vi, mods=cbind(ablat, year)"))
    want.pop("se_tau2")  # the app reports no SE of tau²
    assert_matches(got, want)


def test_sensitivity_without_high_risk_of_bias_and_leave_one_out_match_metafor(computed):
    _analysis, result, found = computed
    sens = found["sensitivity4"]
    assert sorted(e["study"] for e in sens["excluded"]) == sorted(
        label for label, t in zip(LABELS, TRIALS, strict=True) if t["alloc"] != "random"
    )
    assert {e["judgement"] for e in sens["excluded"]} == {"High"}
    _pooled_matches(
        sens["result"], analyses()["subgroups_by_alloc"]["expected"]["REML_random"], "low RoB"
    )
    loo = analyses()["leave_one_out"]["expected"]["REML"]
    by_label = {r["omitted"]: r for r in result.results["leave_one_out"]}
    # The reference is in the trials' order; the app lists studies by label.
    rows = [by_label[label] for label in LABELS]
    for key in ("estimate", "se", "ci_lb", "ci_ub", "tau2", "I2", "Q"):
        for row, value in zip(rows, loo[key], strict=True):
            assert row[key] == pytest.approx(value, abs=tolerance(key, value)), key


def test_cumulative_by_year_matches_metafor_cumul(computed):
    _analysis, _result, found = computed
    cum = found["cumulative5"]
    want = expected("bcg_cumul", "res <- rma")["rows"]
    assert [r["k"] for r in cum["cumulative"]] == [r["k"] for r in want]
    for got, row in zip(cum["cumulative"], want, strict=True):
        assert_matches(got, row, tol=5e-4, where=f"k={row['k']} ")
    assert cum["cumulative"][0]["added"] == "Aronson 1948"
    assert cum["cumulative"][0]["order"] == 1948


def test_additions_and_their_plots_are_stored_and_the_page_only_reads_them(
    client, computed, bcg_review, analyst, reviewer, monkeypatch
):
    analysis, result, _found = computed
    assert sorted(result.results["plots"]) == [
        "cumulative-5.svg",
        "subgroups-1.svg",
        "subgroups-2.svg",
    ]
    calls = []
    real = additions.additions_compute

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(additions, "additions_compute", counting)
    for name in ("forest_plot", "cumulative_plot", "funnel_plot"):
        monkeypatch.setattr(plots, name, lambda *a, **k: pytest.fail("a page view drew a plot"))
    client.force_login(analyst)
    page = client.get(reverse("synthesis:analysis-detail", args=[bcg_review.slug, analysis.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Subgroup analysis by Allocation" in html
    assert "QM = 1.77 (df = 2), p = 0.413" in html
    assert "Excluding high risk of bias" in html
    # The analyst may add analyses; a reviewer reads them only.
    assert "Add to this analysis" in html
    client.force_login(reviewer)
    page = client.get(reverse("synthesis:analysis-detail", args=[bcg_review.slug, analysis.pk]))
    assert "Subgroup analysis by Allocation" in page.content.decode()
    assert "Add to this analysis" not in page.content.decode()
    client.force_login(analyst)
    for name in ("subgroups-1.svg", "cumulative-5.svg"):
        svg = client.get(
            reverse("synthesis:analysis-plot", args=[bcg_review.slug, analysis.pk, name])
        )
        assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    forest = client.get(
        reverse("synthesis:analysis-plot", args=[bcg_review.slug, analysis.pk, "forest.svg"])
    ).content.decode()
    # The risk-of-bias columns: a header per RoB 2 domain and the key below.
    assert ">D5<" in forest and "Risk of bias: RoB 2" in forest
    assert calls == []
    assert analysis_staleness(analysis, result) == ""


def test_a_changed_judgement_makes_the_result_stale(computed, bcg_review, owner):
    analysis, result, _found = computed
    from reviewapp.extraction.models import ExtractionForm
    from reviewapp.screening.models import Study

    rob = ExtractionForm.objects.get(review=bcg_review, tool="rob2")
    study = Study.objects.get(review=bcg_review, label=LABELS[0])
    consensus_save(
        membership=membership_of(owner, bcg_review),
        form=rob,
        study=study,
        raw={"values": HIGH},
        expected_revision=1,
    )
    assert analysis_staleness(analysis, result) != ""


def test_a_moderator_missing_for_a_study_is_refused_naming_the_study_and_field(bcg_review, owner):
    me = membership_of(owner, bcg_review)
    from reviewapp.extraction.models import ExtractionForm

    form = ExtractionForm.objects.get(review=bcg_review, name="Trial data")
    study = form.extractions.get(study__label=LABELS[2]).study
    form_version_save(
        membership=me,
        form=form,
        items=[
            {
                "section": "Design",
                "label": "Allocation",
                "type": "text",
                "key": bcg_review.keys["Allocation"],
            },
            {
                "section": "Design",
                "label": "Year",
                "type": "integer",
                "key": bcg_review.keys["Year"],
            },
            {
                "section": "Design",
                "label": "Latitude",
                "type": "integer",
                "key": bcg_review.keys["Latitude"],
            },
            {"section": "Design", "label": "Dose", "type": "decimal"},
            {
                "section": "Outcomes",
                "label": "Tuberculosis",
                "type": "dichotomous",
                "key": bcg_review.keys["Tuberculosis"],
            },
        ],
    )
    analysis = _analysis(bcg_review, owner)
    dose = _keys(form)["Dose"]
    with pytest.raises(ServiceError) as refused:
        _add(bcg_review, owner, analysis, "metareg", moderators=[dose])
    assert refused.value.field == "moderators"
    assert "'Dose' has no value for" in refused.value.message
    assert study.label in refused.value.message
    analysis.refresh_from_db()
    assert "additions" not in analysis.options


def test_bad_additions_are_messages_on_the_page_never_500s(client, bcg_review, owner, reviewer):
    analysis = _analysis(bcg_review, owner)
    analysis_run(membership=membership_of(owner, bcg_review), analysis=analysis)
    client.force_login(owner)
    url = reverse("synthesis:analysis-addition-add", args=[bcg_review.slug, analysis.pk, "metareg"])
    response = client.post(url, {"metareg-moderators": ["nonsense"]})
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    url = reverse(
        "synthesis:analysis-addition-add", args=[bcg_review.slug, analysis.pk, "cumulative"]
    )
    response = client.post(url, {"cumulative-by": bcg_review.keys["Year"]})
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "Cumulative meta-analysis by Year" in page.content.decode()
    assert AnalysisResult.objects.filter(analysis=analysis).count() == 2
    (addition,) = analysis.__class__.objects.get(pk=analysis.pk).options["additions"]
    # A reviewer (no analysis rights) may neither add nor remove.
    client.force_login(reviewer)
    assert client.post(url, {"cumulative-by": bcg_review.keys["Year"]}).status_code == 403
    remove = reverse(
        "synthesis:analysis-addition-remove",
        args=[bcg_review.slug, analysis.pk, addition["id"]],
    )
    assert client.post(remove).status_code == 403
    client.force_login(owner)
    assert client.post(remove).status_code == 302
    analysis.refresh_from_db()
    assert analysis.options["additions"] == []
    with pytest.raises(ServiceError):
        analysis_addition_remove(
            membership=membership_of(owner, bcg_review),
            analysis=analysis,
            addition_id=addition["id"],
        )


def test_a_one_study_subgroup_is_computed_with_a_warning_naming_it():
    from reviewapp.synthesis.stats import escalc_generic

    effects = escalc_generic(["A 2001", "B 2002", "C 2003"], yi=[0.1, 0.3, 0.5], vi=[0.04] * 3)
    data = additions.StudyData(
        values={"A 2001": {"d": "Cohort"}, "B 2002": {"d": "Cohort"}, "C 2003": {"d": "Registry"}},
        fields={"d": additions.Field("d", "Design", "single_choice")},
    )
    settings = {"model": "random", "method": "REML", "hksj": False}
    (out,) = additions.additions_compute(
        effects, [{"id": 1, "kind": "subgroup", "by": "d"}], data, settings
    ).values()
    assert "error" not in out.result
    (warning,) = out.result["warnings"]
    assert "Design = Registry" in warning and "C 2003" in warning


def test_non_numeric_and_missing_moderators_name_the_study_and_field():
    from reviewapp.synthesis.stats import escalc_generic

    effects = escalc_generic(["A 2001", "B 2002", "C 2003"], yi=[0.1, 0.3, 0.5], vi=[0.04] * 3)
    data = additions.StudyData(
        values={"A 2001": {"n": "12"}, "B 2002": {"n": "twelve"}, "C 2003": {"n": ""}},
        fields={"n": additions.Field("n", "Dose", "decimal")},
    )
    settings = {"model": "random", "method": "REML", "hksj": False}
    (out,) = additions.additions_compute(
        effects, [{"id": 1, "kind": "metareg", "moderators": ["n"]}], data, settings
    ).values()
    assert out.result["error"] == "'Dose' has no value for C 2003."
    data.values["C 2003"]["n"] = "3"
    (out,) = additions.additions_compute(
        effects, [{"id": 1, "kind": "cumulative", "by": "n"}], data, settings
    ).values()
    assert out.result["error"] == "'Dose' is not a number for B 2002 ('twelve')."
