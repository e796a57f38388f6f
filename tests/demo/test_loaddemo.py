from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from reviewapp.extraction.models import Extraction
from reviewapp.literature.models import Import, Record
from reviewapp.reporting.prisma import check
from reviewapp.reporting.selectors import prisma_counts_get
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.models import Decision
from reviewapp.synthesis.models import Analysis


def _counts():
    return {
        "users": get_user_model().objects.count(),
        "reviews": Review.objects.count(),
        "memberships": Membership.objects.count(),
        "imports": Import.objects.count(),
        "records": Record.objects.count(),
        "decisions": Decision.objects.count(),
        "extractions": Extraction.objects.count(),
        "analyses": Analysis.objects.count(),
    }


@pytest.mark.django_db
def test_loaddemo_is_idempotent():
    out = StringIO()
    call_command("loaddemo", "--allow-production", stdout=out)
    first = _counts()
    call_command("loaddemo", "--allow-production", stdout=out)
    assert _counts() == first
    assert first["records"] == 205
    assert "already there" in out.getvalue()


@pytest.mark.django_db
def test_the_demo_review_is_labelled_as_demo_data(client):
    call_command("loaddemo", "--allow-production", stdout=StringIO())
    review = Review.objects.get(slug="demo")
    assert review.is_demo
    # Through the login page: throttling (django-axes) needs the request client.login() lacks.
    login = {"username": "demo", "password": "demo-reviewapp"}
    assert client.post(reverse("login"), login).status_code == 302
    page = client.get(reverse("reviews:review-detail", args=["demo"])).content.decode()
    assert "Demo data" in page
    assert "illustrative" in page


@pytest.mark.django_db
def test_the_demo_records_come_through_the_import_code():
    call_command("loaddemo", "--allow-production", stdout=StringIO())
    imp = Import.objects.get(review__slug="demo")
    assert (imp.status, imp.format, imp.count_imported, imp.count_rejected) == (
        "done",
        "pubmed-xml",
        205,
        0,
    )
    record = Record.objects.filter(review__slug="demo").order_by("id").first()
    assert record.pmid and record.abstract_sections and record.authors


@pytest.mark.django_db
def test_loaddemo_refuses_a_production_site_without_the_flag(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="published password"):
        call_command("loaddemo", stdout=StringIO())
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_createreview_makes_a_review_owned_by_the_named_user(owner):
    call_command(
        "createreview",
        "nat-stop",
        "--title",
        "Stopping natalizumab",
        "--owner",
        "olivia",
        stdout=StringIO(),
    )
    review = Review.objects.get(slug="nat-stop")
    assert review.memberships.get().user == owner


@pytest.mark.django_db
def test_createreview_names_an_unknown_owner():
    with pytest.raises(CommandError, match="No user is called 'nobody'"):
        call_command("createreview", "x", "--title", "X", "--owner", "nobody")


@pytest.mark.django_db
def test_the_demo_carries_the_reference_flow_to_a_forest_plot(client):
    """Prosperini et al. 2019: 205 records identified by one PubMed search, 35 articles included,
    six studies (1,183 patients) pooled by generic inverse variance with random effects."""
    call_command("loaddemo", "--allow-production", stdout=StringIO())
    review = Review.objects.get(slug="demo")
    counts = prisma_counts_get(review)
    check(counts)
    assert counts.databases == {"PubMed": 205}
    assert counts.records_screened == 205
    assert counts.new_reports == counts.total_reports == 35
    assert counts.new_studies < counts.new_reports  # two later reports of included studies
    assert counts.total_studies_ma == 6
    analysis = Analysis.objects.get(review=review)
    # The latest result: computed again once the subgroup and sensitivity analyses were added.
    result = analysis.results.first()
    assert (analysis.measure, analysis.model, result.results["pooled"]["k"]) == ("GEN", "random", 6)
    patients = sum(
        int(v)
        for e in Extraction.objects.filter(study__review=review)
        for k, v in e.data["values"].items()
        if k.endswith("patients_who_stopped_natalizumab")
    )
    assert patients == 1183
    # Through the login page: throttling (django-axes) needs the request client.login() lacks.
    login = {"username": "demo-analyst", "password": "demo-reviewapp"}
    assert client.post(reverse("login"), login).status_code == 302
    page = client.get(reverse("synthesis:analysis-detail", args=["demo", analysis.pk]))
    assert "Forest plot" in page.content.decode() and "Illustrative" in page.content.decode()


@pytest.mark.django_db
def test_the_demo_carries_rob2_for_its_six_pooled_studies():
    """Two assessors each, settled in consensus: three low, two some concerns, one high."""
    from reviewapp.extraction.models import ExtractionForm
    from reviewapp.riskofbias.selectors import overall_by_study

    call_command("loaddemo", "--allow-production", stdout=StringIO())
    form = ExtractionForm.objects.get(review__slug="demo", tool="rob2")
    assert form.extractions.filter(kind="individual", submitted_at__isnull=False).count() == 12
    overall = overall_by_study(form)
    assert sorted(overall.values()) == ["high", "low", "low", "low", "some", "some"]


@pytest.mark.django_db
def test_the_demo_rob_summary_is_weighted_by_the_pooled_analysis(client):
    """robvis weights the summary by the meta-analysis weights: the demo's six studies carry
    their percent weights from the pooled result, which add up to 100."""
    from reviewapp.extraction.models import ExtractionForm
    from reviewapp.riskofbias.selectors import analysis_weights, figure_rows

    call_command("loaddemo", "--allow-production", stdout=StringIO())
    review = Review.objects.get(slug="demo")
    form = ExtractionForm.objects.get(review=review, tool="rob2")
    analysis = Analysis.objects.get(review=review)
    rows = figure_rows(form, analysis_weights(review, analysis.pk))
    assert len(rows) == 6 and sum(r.weight for r in rows) == pytest.approx(100)
    client.force_login(review.memberships.get(role="analyst").user)
    url = reverse("riskofbias:figure", args=["demo", form.pk, "summary"])
    assert client.get(url, {"analysis": analysis.pk}).status_code == 200
    assert client.get(url, {"analysis": analysis.pk + 999}).status_code == 404


@pytest.mark.django_db
def test_the_demo_analysis_carries_a_subgroup_and_a_sensitivity_analysis(client):
    """By design (the registry a subgroup of one study, said so), and without the study judged
    at high risk of bias in the RoB 2 consensus; the forest plot shows the RoB 2 columns."""
    from reviewapp.synthesis.selectors import analysis_latest_result, analysis_staleness

    call_command("loaddemo", "--allow-production", stdout=StringIO())
    call_command("loaddemo", "--allow-production", stdout=StringIO())
    review = Review.objects.get(slug="demo")
    analysis = Analysis.objects.get(review=review)
    assert [a["kind"] for a in analysis.options["additions"]] == ["subgroup", "sensitivity"]
    result = analysis_latest_result(analysis, with_inputs=True)
    assert analysis_staleness(analysis, result) == ""
    subgroup, sensitivity = (result.results["additions"][k] for k in ("1", "2"))
    assert sorted(subgroup["groups"]) == ["Prospective cohort", "Registry", "Retrospective cohort"]
    assert "Design = Registry: one study only" in subgroup["warnings"][0]
    assert len(sensitivity["excluded"]) == 1 and sensitivity["result"]["k"] == 5
    assert len(result.inputs["study_data"]["rob"]) == 6
    client.force_login(review.memberships.get(role="analyst").user)
    page = client.get(reverse("synthesis:analysis-detail", args=["demo", analysis.pk]))
    html = page.content.decode()
    assert "Subgroup analysis by Design" in html and "Excluding high risk of bias" in html
