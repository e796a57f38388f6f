"""The form builder in a real browser at 1280x800 and 390x844: start from a template, add, move
and remove fields, watch the preview follow, save, and see the form as an extractor does; and
every extraction page passes look() for each role."""

import pytest
from django.urls import reverse

from reviewapp.extraction.models import ExtractionForm
from reviewapp.extraction.services import form_version_save
from tests.browser.conftest import wait_for
from tests.browser.look import look
from tests.conftest import membership_of
from tests.extraction.helpers import ROWS, dual_form_submitted, study_included

VIEWPORTS = ["wide", "phone"]
# base.html's message list (role=status on the <ul>) is fixed by the layout helper's branch; until
# that is merged axe flags its <li>s, which are not this page's. Remove once main has it.
MESSAGES = (".messages",)


def _labels(page, section_index):
    return (
        page.locator(f".b-sections > .b-section >> nth={section_index}")
        .locator(".b-label-input")
        .evaluate_all("inputs => inputs.map(i => i.value)")
    )


def _preview_has(page, text):
    wait_for(page, f"document.getElementById('preview').textContent.includes({text!r})")


def _preview_lacks(page, text):
    wait_for(page, f"!document.getElementById('preview').textContent.includes({text!r})")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_form_is_built_from_a_template_and_extractors_see_it(
    login, live_server, review, owner, reviewer, viewport
):
    form = ExtractionForm.objects.create(review=review, name="Trial outcomes")
    study = study_included(review, owner, label="Prosperini 2019")
    page = login(owner, viewport=viewport)
    page.goto(live_server.url + reverse("extraction:form-edit", args=[review.slug, form.pk]))
    look(page, f"builder-new-{viewport}")

    page.get_by_role("button", name="RCT outcome form").click()
    page.wait_for_load_state()
    wait_for(page, "document.body.dataset.builderReady === 'true'")
    assert _labels(page, 0) == ["Trial registration", "Design", "Country"]
    _preview_has(page, "Randomised to intervention (n)")

    # Add a field to the first section; the new card's label box has the focus.
    trial = page.locator(".b-sections > .b-section").first
    trial.get_by_role("button", name="Add a field to this section").click()
    page.keyboard.type("Blinding")
    card = trial.locator(".b-card").last
    assert card.locator(".b-card-title").inner_text() == "Blinding"
    _preview_has(page, "Blinding")

    # Options follow the type: a measure only for an estimate, choices only for a choice.
    measure = card.get_by_label("Measure")
    assert not measure.is_visible() and not card.get_by_label("Choices, one per line").is_visible()
    card.get_by_label("Type").select_option("single_choice")
    assert card.get_by_label("Choices, one per line").is_visible()
    card.get_by_label("Choices, one per line").fill("Open label\nSingle blind\nDouble blind")
    assert not measure.is_visible()
    card.get_by_label("Type").select_option("estimate")
    assert measure.is_visible() and not card.get_by_label("Choices, one per line").is_visible()
    card.get_by_label("Type").select_option("single_choice")
    _preview_has(page, "Double blind")

    # Move it up with the keyboard, twice: it stays focused on its button and moves.
    up = card.get_by_role("button", name="Move up")
    up.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    assert _labels(page, 0) == ["Trial registration", "Blinding", "Design", "Country"]
    assert page.evaluate("document.activeElement.classList.contains('b-up')")
    assert "now 2 of 4 in Trial" in page.locator(".b-status").inner_text()

    # Remove a field: it leaves the editor and the preview.
    trial.locator(".b-card", has=page.locator("input[value='Country']")).get_by_role(
        "button", name="Remove"
    ).click()
    assert _labels(page, 0) == ["Trial registration", "Blinding", "Design"]
    _preview_lacks(page, "Country")
    page.get_by_role("button", name="Undo: put back Country").click()
    assert _labels(page, 0) == ["Trial registration", "Blinding", "Design", "Country"]
    _preview_has(page, "Country")
    trial.locator(".b-card", has=page.locator("input[value='Country']")).get_by_role(
        "button", name="Remove"
    ).click()
    _preview_lacks(page, "Country")

    page.wait_for_timeout(600)
    look(page, f"builder-editing-{viewport}")

    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()
    assert "Saved as version 1" in page.locator(".messages").inner_text()
    definition = form.versions.get().definition
    labels = [i["label"] for i in definition["sections"][0]["items"]]
    assert labels == ["Trial registration", "Blinding", "Design"]
    assert page.get_by_role("button", name="Save as version 2").is_visible()
    look(page, f"builder-saved-{viewport}", exclude=MESSAGES)

    extractor = login(reviewer, viewport=viewport)
    extractor.goto(
        live_server.url + reverse("extraction:study-extract", args=[review.slug, form.pk, study.pk])
    )
    assert extractor.get_by_label("Blinding").is_visible()
    assert extractor.get_by_label("Randomised to intervention (n)").is_visible()
    assert extractor.get_by_role("group", name="Effect estimate, row 1").is_visible()
    look(extractor, f"extract-from-built-form-{viewport}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_refused_save_names_the_field_and_keeps_the_input(
    login, live_server, review, owner, viewport
):
    form = ExtractionForm.objects.create(review=review, name="Characteristics")
    form_version_save(membership=membership_of(owner, review), form=form, items=ROWS)
    page = login(owner, viewport=viewport)
    page.goto(live_server.url + reverse("extraction:form-edit", args=[review.slug, form.pk]))
    wait_for(page, "document.body.dataset.builderReady === 'true'")
    design = page.locator(".b-card", has=page.locator("input[value='Design']"))
    design.get_by_label("Choices, one per line").fill("RCT")
    design.get_by_label("Label").fill("Study design")
    _preview_has(page, 'field "Study design": a choice field needs at least two choices')
    page.get_by_role("button", name="Save as version 2").click()
    page.wait_for_load_state()
    summary = page.locator(".error-summary")
    assert "Nothing was saved: 1 problem to put right." in summary.inner_text()
    assert (
        'Section "Study design", field "Study design": a choice field needs at least two choices.'
        in summary.inner_text()
    )
    assert page.locator("input[value='Study design'][aria-invalid=true]").count() == 1
    assert form.versions.count() == 1
    look(page, f"builder-refused-{viewport}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("role", ["owner", "reviewer", "analyst"])
def test_the_extraction_pages_pass_look_for_every_role(
    login, live_server, review, owner, reviewer, reviewer2, analyst, request, viewport, role
):
    form, study = dual_form_submitted(review, owner, [reviewer, reviewer2])
    user = request.getfixturevalue(role)
    page = login(user, viewport=viewport)
    urls = {
        "forms": reverse("extraction:form-list", args=[review.slug]),
        "form": reverse("extraction:form-detail", args=[review.slug, form.pk]),
        "compare": reverse("extraction:study-compare", args=[review.slug, form.pk, study.pk]),
    }
    if role != "analyst":
        urls["extract"] = reverse("extraction:study-extract", args=[review.slug, form.pk, study.pk])
    for name, url in urls.items():
        response = page.goto(live_server.url + url)
        assert response.status == 200, (name, response.status)
        look(page, f"extraction-{name}-{role}-{viewport}")


@pytest.mark.django_db(transaction=True)
def test_without_script_the_builder_still_adds_moves_removes_and_saves(
    chromium, live_server, browser_settings, review, owner
):
    form = ExtractionForm.objects.create(review=review, name="Cohorts")
    context = chromium.new_context(
        java_script_enabled=False, viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", owner.username)
        page.fill("input[name=password]", "correct horse battery staple")
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state()
        page.goto(live_server.url + reverse("extraction:form-edit", args=[review.slug, form.pk]))

        def press(button):
            with page.expect_navigation():
                button.click()

        press(page.get_by_role("button", name="Cohort characteristics form"))
        # The server drew the template's cards, and its preview.
        assert _labels(page, 0) == ["Design", "Country", "Setting", "Recruitment period"]
        assert "Participants (n)" in page.locator("#preview").inner_text()
        press(page.get_by_role("button", name="Move up Country"))
        assert _labels(page, 0) == ["Country", "Design", "Setting", "Recruitment period"]
        press(page.get_by_role("button", name="Remove Setting"))
        first = page.locator(".b-sections > .b-section").first
        press(first.get_by_role("button", name="Add a field to this section"))
        # The new card has the focus (autofocus) and an empty label.
        assert page.evaluate("document.activeElement.value") == ""
        page.keyboard.type("Funding")
        press(page.get_by_role("button", name="Check and preview"))
        assert "Funding" in page.locator("#preview").inner_text()
        # axe-core needs script timers, which this page has not: overflow and screenshot only.
        look(page, "builder-without-script-phone", axe=False)
        press(page.get_by_role("button", name="Save", exact=True))
        assert "Saved as version 1" in page.locator(".messages").inner_text()
    finally:
        context.close()
    items = form.versions.get().definition["sections"][0]["items"]
    assert [i["label"] for i in items] == ["Country", "Design", "Recruitment period", "Funding"]
