"""GRADE in a real browser, at desktop and phone widths: the owner confirms a proposal and
changes a judgement (a change without its reason refused beside the control by app.js), the
certainty follows; the summary-of-findings page with its downloads; reviewers and analysts read
both pages (the analyst may judge, the reviewer sees no controls)."""

import pytest
from django.urls import reverse

from reviewapp.grade import proposals as p
from reviewapp.grade.services import assessment_settings_save
from tests.browser.look import in_viewport, look
from tests.conftest import membership_of
from tests.grade.helpers import analysis_with_result

# base.html's flash messages are a <ul role="status"> that axe reads as list items outside a
# list; base.html belongs to the layout, reported there.
MESSAGES = (".messages",)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_judge_domains_and_read_the_summary_of_findings(
    login, live_server, review, owner, reviewer, analyst, viewport
):
    analysis = analysis_with_result(review, owner)
    assessment_settings_save(
        membership=membership_of(owner, review),
        analysis=analysis,
        design=p.RANDOMISED,
        rob_form_id=None,
        baseline_per_1000="40",
        baseline_source="Median control-arm risk",
    )
    grade_url = live_server.url + reverse("grade:assessment", args=[review.slug, analysis.pk])
    sof_url = live_server.url + reverse("grade:sof", args=[review.slug])

    page = login(owner, viewport=viewport)
    page.goto(
        live_server.url + reverse("synthesis:analysis-detail", args=[review.slug, analysis.pk])
    )
    page.click("text=Certainty of the evidence (GRADE)")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Certainty of the evidence (GRADE)"
    look(page, f"grade-owner-{viewport}", exclude=MESSAGES)

    # Publication bias: the data propose 'not serious'; 'serious' without a reason is refused
    # and the server's sentence shows in the form that sent it.
    form = page.locator("#domain-publication_bias + p + form")
    form.locator("select").select_option("serious")
    form.locator("button").click()
    message = form.locator(".request-error")
    message.wait_for()
    assert "say why you judge it" in message.inner_text()
    look(page, f"grade-refused-{viewport}", exclude=MESSAGES)

    form.locator("textarea").fill("Two registered trials never reported their results.")
    form.locator("button").click()
    page.locator("text=Judged: Serious (−1)").wait_for()
    assert "1 of 8 domains confirmed" in page.locator(".grade-certainty").inner_text()

    # Indirectness: no proposal, the reason is the reviewer's.
    form = page.locator("#domain-indirectness + p + form")
    form.locator("select").select_option("no")
    form.locator("textarea").fill("Populations and outcome as in the question.")
    form.locator("button").click()
    page.locator("text=2 of 8 domains confirmed").wait_for()
    look(page, f"grade-judged-{viewport}", exclude=MESSAGES)

    page.goto(sof_url)
    table = page.locator("table.sof").inner_text()
    assert "40 per 1,000" in table and "Tuberculosis" in table
    in_viewport(page, "h1")
    look(page, f"grade-sof-owner-{viewport}", exclude=MESSAGES)
    with page.expect_download() as download:
        page.click("text=Word (DOCX)")
    assert download.value.suggested_filename.endswith("summary-of-findings.docx")

    for user in (reviewer, analyst):
        other = login(user, viewport=viewport)
        other.goto(grade_url)
        text = other.content()
        assert "Two registered trials never reported their results." in text
        assert ("<select" in text) == (user == analyst)
        look(other, f"grade-{user.username}-{viewport}", exclude=MESSAGES)
        other.goto(sof_url)
        assert "Median control-arm risk" in other.locator("table.sof").inner_text()
        look(other, f"grade-sof-{user.username}-{viewport}", exclude=MESSAGES)
