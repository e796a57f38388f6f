"""Risk of bias in a real browser, at desktop and phone widths: the owner adds RoB 2 for a
result, an assessor answers the signalling questions and sees the algorithm's proposals, an
override without a reason is refused beside its input, and the overview shows the consensus
as traffic lights; reviewers and analysts open the overview too."""

import pytest
from django.urls import reverse

from reviewapp.extraction.services import consensus_save, extraction_save
from tests.browser.look import in_viewport, look
from tests.conftest import membership_of
from tests.extraction.helpers import study_included
from tests.riskofbias.test_assessments import LOW_ANSWERS

# base.html's flash messages are a <ul role="status">, which axe reads as <li>s outside a list
# (serious); base.html belongs to the layout helper, reported there. Only those are skipped.
MESSAGES = (".messages",)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_assess_with_proposals_and_see_the_traffic_lights(
    login, live_server, review, owner, reviewer, analyst, viewport
):
    study = study_included(review, owner, label="Polman 2006")
    other = study_included(review, owner, label="Rudick 2006")
    page = login(owner, viewport=viewport)
    overview = live_server.url + reverse("riskofbias:overview", args=[review.slug])
    page.goto(live_server.url + reverse("extraction:form-list", args=[review.slug]))
    page.click("text=Risk of bias >> nth=-1")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Risk of bias"
    # A failure path: RoB 2 without the result it assesses is refused with the reason.
    page.select_option("#rob-tool", "rob2")
    page.click("text=Add the tool")
    page.wait_for_load_state()
    assert "name the outcome" in page.content()
    page.fill("#rob-result", "Relapse at 2 years")
    page.select_option("#rob-assessors", "1")
    page.click("text=Add the tool")
    page.wait_for_load_state()
    form = review.extraction_forms.get(tool="rob2")
    look(page, f"rob-overview-empty-{viewport}", exclude=MESSAGES)

    # The assessor answers D1 so that it proposes Low, then judges it High without a reason.
    page.goto(
        live_server.url + reverse("extraction:study-extract", args=[review.slug, form.pk, study.pk])
    )
    for key, text in LOW_ANSWERS.items():
        page.select_option(f"[name={key}]", text)
    page.click("text=Save draft")
    page.wait_for_load_state()
    assert "Proposed: Low (1.2 Y → 1.1 Y → 1.3 N)" in page.locator(".rob-proposals").inner_text()
    look(page, f"rob-assess-{viewport}", exclude=MESSAGES)
    page.select_option("[name=d1_judgement]", "High")
    page.click("text=Save draft")
    page.wait_for_load_state()
    assert "algorithm proposes Low" in page.locator(".errorlist").inner_text()
    look(page, f"rob-assess-refused-{viewport}")

    # Consensus for both studies (one with some concerns), then the overview's lights.
    ms = membership_of(owner, review)
    for s, extra in ((study, {}), (other, {"d5_5_1": "No information"})):
        extraction_save(
            membership=ms,
            form=form,
            study=s,
            raw={"values": LOW_ANSWERS | extra},
            expected_revision=1 if s == study else 0,
            submit=True,
        )
        consensus_save(
            membership=ms,
            form=form,
            study=s,
            raw={"values": LOW_ANSWERS | extra},
            expected_revision=0,
        )
    for user in (owner, reviewer, analyst):
        p = page if user == owner else login(user, viewport=viewport)
        p.goto(overview)
        table = p.locator("table.rob-table").inner_text()
        assert "Polman 2006" in table and "Some concerns" in p.content()
        in_viewport(p, "h1")
        look(p, f"rob-overview-{user.username}-{viewport}")
    # The figure link on the page opens the traffic-light SVG of these consensus judgements.
    with page.expect_download() as download:
        page.click("text=traffic-light SVG")
    assert download.value.suggested_filename.endswith("traffic-light.svg")
