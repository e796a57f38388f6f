"""The GRADE page, its htmx saves, the summary-of-findings page and its DOCX and CSV downloads,
for the roles that judge (owner, analyst) and the ones that read (reviewer)."""

import csv
import io

import docx
import pytest
from django.urls import reverse

from reviewapp.grade import proposals as p
from reviewapp.grade.documents import DOCX_HEADER, docx_cells
from reviewapp.grade.models import Assessment, DomainJudgement
from reviewapp.grade.selectors import SOF_HEADER, sof_rows
from reviewapp.grade.services import assessment_settings_save
from tests.conftest import membership_of
from tests.grade.helpers import analysis_with_result

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def analysis(review, owner):
    return analysis_with_result(review, owner)


@pytest.fixture
def graded(review, owner, analysis):
    assessment_settings_save(
        membership=membership_of(owner, review),
        analysis=analysis,
        design=p.RANDOMISED,
        rob_form_id=None,
        baseline_per_1000="40",
        baseline_source="Control arms, median",
        comments="Trials from 1948 to 1977; a =formula is not run.",
    )
    return analysis


def page_url(review, analysis):
    return reverse("grade:assessment", args=[review.slug, analysis.pk])


def save_url(review, analysis, domain):
    return reverse("grade:domain-save", args=[review.slug, analysis.pk, domain])


def test_owner_sees_every_domain_with_its_proposal_and_a_control(client, review, owner, analysis):
    client.force_login(owner)
    response = client.get(page_url(review, analysis))
    assert response.status_code == 200
    text = response.content.decode()
    for name in p.DOMAIN_NAMES.values():
        assert name in text
    assert 'id="judgement-imprecision"' in text and 'id="reason-imprecision"' in text
    assert "Save settings" in text


def test_reviewer_reads_without_controls_and_may_not_post(client, review, reviewer, analysis):
    client.force_login(reviewer)
    response = client.get(page_url(review, analysis))
    assert response.status_code == 200
    assert "Inconsistency" in response.content.decode()
    assert "<select" not in response.content.decode()
    posted = client.post(
        save_url(review, analysis, "indirectness"), {"judgement": "no", "reason": "x"}
    )
    assert posted.status_code == 403
    assert not DomainJudgement.objects.exists()


def test_htmx_save_returns_the_domains_with_the_new_certainty(client, review, analyst, analysis):
    client.force_login(analyst)
    response = client.post(
        save_url(review, analysis, "indirectness"),
        {"judgement": "serious", "reason": "Old vaccines."},
        **HTMX,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert text.lstrip().startswith('<div id="grade-domains">')
    assert "Judged: Serious (−1)" in text and "Old vaccines." in text
    assert "1 of 8 domains confirmed" in text


def test_htmx_refusal_is_a_short_message_for_beside_the_control(client, review, owner, analysis):
    client.force_login(owner)
    response = client.post(
        save_url(review, analysis, "publication_bias"), {"judgement": "serious"}, **HTMX
    )
    assert response.status_code == 422
    assert response["Content-Type"].startswith("text/plain")
    assert "say why you judge it 'Serious (−1)' instead" in response.content.decode()


def test_without_script_the_refusal_shows_beside_the_reason(client, review, owner, analysis):
    client.force_login(owner)
    response = client.post(
        save_url(review, analysis, "indirectness"), {"judgement": "very_serious", "reason": ""}
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert 'id="error-indirectness" role="alert"' in text
    assert 'aria-describedby="error-indirectness"' in text
    # What was chosen stays chosen.
    assert '<option value="very_serious" selected>' in text
    ok = client.post(
        save_url(review, analysis, "indirectness"), {"judgement": "no", "reason": "Direct."}
    )
    assert ok.status_code == 302


def test_settings_form_names_the_field_at_fault(client, review, owner, analysis):
    client.force_login(owner)
    response = client.post(
        page_url(review, analysis),
        {"design": "randomised", "rrr": "0.25", "baseline_per_1000": "2000"},
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert "between 0 and 1000" in form.errors["baseline_per_1000"][0]
    assert not Assessment.objects.exists()


def test_sof_page_sets_the_assumed_risk(client, review, owner, graded):
    client.force_login(owner)
    url = reverse("grade:sof", args=[review.slug])
    prefix = f"a{graded.pk}"
    bad = client.post(url, {"analysis": graded.pk, f"{prefix}-baseline_per_1000": "-3"})
    assert bad.status_code == 422
    assert "between 0 and 1000" in bad.content.decode()
    good = client.post(
        url,
        {
            "analysis": graded.pk,
            f"{prefix}-baseline_per_1000": "60",
            f"{prefix}-baseline_source": "Registry",
        },
    )
    assert good.status_code == 302
    page = client.get(url).content.decode()
    assert "60 per 1,000" in page and "Registry" in page


def test_reviewer_sees_the_table_without_the_baseline_forms(client, review, reviewer, graded):
    client.force_login(reviewer)
    page = client.get(reverse("grade:sof", args=[review.slug])).content.decode()
    assert "40 per 1,000" in page
    assert "Save assumed risk" not in page
    assert reverse("grade:sof-download", args=[review.slug, "docx"]) in page


def test_docx_download_holds_the_table(client, review, analyst, graded):
    client.force_login(analyst)
    response = client.get(reverse("grade:sof-download", args=[review.slug, "docx"]))
    assert response.status_code == 200
    assert "summary-of-findings.docx" in response["Content-Disposition"]
    document = docx.Document(io.BytesIO(response.content))
    (table,) = document.tables
    read = [[cell.text for cell in row.cells] for row in table.rows]
    (row,) = sof_rows(review)
    assert read[0] == DOCX_HEADER
    assert read[1] == docx_cells(row, 1 if row.reasons else None)
    # The reasons for rating down follow the table as numbered footnotes.
    paragraphs = [para.text for para in document.paragraphs]
    assert row.reasons and f"[1] {row.outcome}: {' '.join(row.reasons)}" in paragraphs
    assert read[1][1] == "40 per 1,000"
    assert "per 1,000 (from" in read[1][4]


def test_csv_download_parses_back_to_the_rows(client, review, reviewer, graded):
    client.force_login(reviewer)
    response = client.get(reverse("grade:sof-download", args=[review.slug, "csv"]))
    assert response.status_code == 200
    parsed = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    (row,) = sof_rows(review)
    expected = row.as_dict()
    assert list(parsed[0]) == SOF_HEADER
    assert parsed[0]["absolute_effect"] == expected["absolute_effect"]
    assert parsed[0]["certainty"] == expected["certainty"]
    assert parsed[0]["studies"] == "6 randomised trials"
    assert parsed[0]["participants"] == expected["participants"]
    # Text a spreadsheet would run as a formula is neutralised only where it starts a cell.
    assert parsed[0]["comments"].startswith("Trials from 1948")


def test_unknown_download_and_domain_are_404(client, review, owner, analysis):
    client.force_login(owner)
    assert client.get(reverse("grade:sof-download", args=[review.slug, "pdf"])).status_code == 404
    assert client.post(save_url(review, analysis, "mood"), {}).status_code == 404


def test_the_analysis_page_links_to_grade(client, review, reviewer, analysis):
    client.force_login(reviewer)
    page = client.get(reverse("synthesis:analysis-detail", args=[review.slug, analysis.pk]))
    assert page_url(review, analysis) in page.content.decode()
