"""Risk-of-bias tools as built-in extraction forms: dual assessment, blinding, override with a
reason, consensus, the overview, the figures and the download of every judgement."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from reviewapp.core.errors import ServiceError
from reviewapp.demo.flow import ROB2_LOW_ANSWERS as LOW_ANSWERS
from reviewapp.extraction.services import (
    EntryInvalid,
    consensus_save,
    extraction_save,
    form_version_save,
)
from reviewapp.riskofbias.builtin import TOOL_CHOICES, tool_definition
from reviewapp.riskofbias.services import rob_form_create
from tests.conftest import membership_of
from tests.extraction.helpers import study_included

SUPPORT_MARK = "ROBMARKERSUPPORT9X"


@pytest.fixture
def study(review, owner):
    return study_included(review, owner, label="Polman 2006")


@pytest.fixture
def rob2(review, owner):
    return rob_form_create(
        membership=membership_of(owner, review), tool="rob2", result="Relapse at 2 years"
    )


def assess(user, review, form, study, values, *, submit=True, revision=0):
    return extraction_save(
        membership=membership_of(user, review),
        form=form,
        study=study,
        raw={"values": values},
        expected_revision=revision,
        submit=submit,
    )


def test_every_tool_is_a_valid_fixed_form(review, owner):
    ms = membership_of(owner, review)
    for tool in TOOL_CHOICES:
        form = rob_form_create(
            membership=ms, tool=tool, result="Mortality" if "rob2" in tool else ""
        )
        assert form.versions.get().definition == tool_definition(tool)
        assert form.extractors_required == 2
    with pytest.raises(ServiceError, match="built-in risk-of-bias form"):
        form_version_save(membership=ms, form=form, items=[{"label": "x", "type": "text"}])
    with pytest.raises(ServiceError, match="name the outcome"):
        rob_form_create(membership=ms, tool="rob2", result="  ")
    with pytest.raises(ServiceError, match="Choose one of the risk-of-bias tools"):
        rob_form_create(membership=ms, tool="rob3")


def test_a_reviewer_may_not_add_a_tool(client, review, reviewer):
    client.force_login(reviewer)
    url = reverse("riskofbias:form-create", args=[review.slug])
    assert client.post(url, {"tool": "quadas-2"}).status_code == 403
    assert not review.extraction_forms.exists()


def test_owner_adds_a_tool_from_the_page_and_a_missing_result_is_named(client, review, owner):
    client.force_login(owner)
    url = reverse("riskofbias:form-create", args=[review.slug])
    response = client.post(url, {"tool": "rob2", "result": "", "assessors": "2"}, follow=True)
    assert "name the outcome" in response.content.decode()
    client.post(url, {"tool": "rob2", "result": "Relapse", "assessors": "2"})
    assert (
        review.extraction_forms.get().name
        == "RoB 2 (effect of assignment to intervention): Relapse"
    )


def test_departing_from_the_algorithm_needs_a_reason(review, reviewer, rob2, study):
    """The D1 answers propose Low; judging it High without support is refused, naming the
    input; with a reason it is kept, and nothing of the refused save was written."""
    values = LOW_ANSWERS | {"d1_judgement": "High"}
    with pytest.raises(EntryInvalid) as refused:
        assess(reviewer, review, rob2, study, values, submit=False)
    assert "algorithm proposes Low" in refused.value.errors["d1_judgement"]
    assert not rob2.extractions.exists()
    saved = assess(reviewer, review, rob2, study, values | {"d1_support": "Envelopes not opaque."})
    assert saved.data["values"]["d1_judgement"] == "High"


def test_assessments_are_blinded_then_compared_and_settled(
    client, review, owner, reviewer, reviewer2, rob2, study
):
    draft = assess(
        reviewer,
        review,
        rob2,
        study,
        LOW_ANSWERS | {"d5_5_1": "No information", "d5_support": SUPPORT_MARK},
        submit=False,
    )
    download = reverse("riskofbias:judgements-download", args=[review.slug])
    compare = reverse("extraction:study-compare", args=[review.slug, rob2.pk, study.pk])
    # The second assessor, whose own assessment is due, sees nothing of the first one's.
    client.force_login(reviewer2)
    assert SUPPORT_MARK not in b"".join(client.get(download).streaming_content).decode()
    assert client.get(compare).status_code == 403
    assess(reviewer2, review, rob2, study, LOW_ANSWERS)
    # Submitting needs a judgement in every domain: the algorithm names what it still needs.
    with pytest.raises(EntryInvalid) as refused:
        assess(reviewer, review, rob2, study, {"d1_1_2": "Yes"}, revision=draft.revision)
    assert refused.value.errors["d1_judgement"].startswith("D1 Bias arising from the rand")
    assert "answer 1.1 or choose a judgement" in refused.value.errors["d1_judgement"]
    assert "answer 3.1" in refused.value.errors["d3_judgement"]
    values = LOW_ANSWERS | {"d5_5_1": "No information", "d5_support": SUPPORT_MARK}
    assess(reviewer, review, rob2, study, values, revision=draft.revision)
    assert rob2.extractions.get(extractor=reviewer).submitted_at is not None
    # Both in: the consensus page proposes from what they agree on.
    client.force_login(owner)
    page = client.get(compare).content.decode()
    assert "What the algorithm proposes" in page
    consensus_save(
        membership=membership_of(owner, review),
        form=rob2,
        study=study,
        raw={"values": LOW_ANSWERS | {"d5_5_1": "No information"}},
        expected_revision=0,
    )
    overview = client.get(reverse("riskofbias:overview", args=[review.slug])).content.decode()
    assert "Polman 2006" in overview and 'class="rob-light rob-some"' in overview


def test_figures_and_download_from_the_consensus(client, review, owner, analyst, rob2, study):
    ms = membership_of(owner, review)
    for who in (owner,):
        assess(who, review, rob2, study, LOW_ANSWERS | {"d3_support": SUPPORT_MARK})
    rob2.extractors_required = 1
    rob2.save()
    consensus_save(
        membership=ms,
        form=rob2,
        study=study,
        raw={"values": LOW_ANSWERS | {"d3_support": SUPPORT_MARK}},
        expected_revision=0,
    )
    client.force_login(analyst)
    for figure in ("traffic-light", "summary"):
        url = reverse("riskofbias:figure", args=[review.slug, rob2.pk, figure])
        svg = client.get(url, {"format": "svg"})
        assert svg["Content-Type"] == "image/svg+xml"
        root = ET.fromstring(svg.content)
        text = " ".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("text"))
        assert ("Polman 2006" in text) if figure == "traffic-light" else ("Overall" in text)
        png = client.get(url, {"format": "png"})
        assert png.content.startswith(b"\x89PNG")
    assert (
        client.get(reverse("riskofbias:figure", args=[review.slug, rob2.pk, "pie"])).status_code
        == 404
    )
    url = reverse("riskofbias:judgements-download", args=[review.slug])
    rows = list(csv.DictReader(io.StringIO(b"".join(client.get(url).streaming_content).decode())))
    consensus = [r for r in rows if r["kind"] == "consensus"]
    assert [r["domain"] for r in consensus] == ["D1", "D2", "D3", "D4", "D5", "overall"]
    d1 = consensus[0]
    assert (d1["answers"], d1["proposed"], d1["judgement"]) == ("1.1=Y; 1.2=Y; 1.3=N", "Low", "Low")
    assert consensus[2]["support"] == SUPPORT_MARK
    workbook = load_workbook(io.BytesIO(client.get(url, {"format": "xlsx"}).content))
    sheet = workbook["Risk of bias"]
    assert sheet.max_row == len(rows) + 1


def test_nos_stars_on_the_overview(client, review, owner, study):
    ms = membership_of(owner, review)
    form = rob_form_create(membership=ms, tool="nos-cohort", assessors=1)
    values = {
        "s1": "a) Truly representative of the average in the community *",
        "c1": ["a) Study controls for the most important factor *"],
        "o2": "a) Yes *",
    }
    with pytest.raises(EntryInvalid) as refused:
        assess(owner, review, form, study, values)
    assert sorted(refused.value.errors) == ["o1", "o3", "s2", "s3", "s4"]
    values |= {
        "s2": "b) Drawn from a different source",
        "s3": "c) Written self report",
        "s4": "b) No",
        "o1": "c) Self report",
        "o3": "d) No statement",
    }
    assess(owner, review, form, study, values)
    consensus_save(
        membership=ms, form=form, study=study, raw={"values": values}, expected_revision=0
    )
    client.force_login(owner)
    page = client.get(reverse("riskofbias:overview", args=[review.slug])).content.decode()
    assert "3 (poor)" in page
