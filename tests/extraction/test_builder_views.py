"""The form builder page: cards in sections posted in page order, saved as versions, with
every problem named and the user's input kept; its preview; starting from a template."""

import pytest
from django.urls import reverse

from reviewapp.extraction.models import ExtractionForm
from reviewapp.extraction.services import extraction_save
from tests.conftest import membership_of
from tests.extraction.helpers import entry_sample


def draft_post(sections, **extra):
    """The builder's POST as the page sends it: [(section title, [card inputs, ...]), ...]."""
    data: dict = {"action": "definition", "item": []}
    n = 0
    for s_number, (title, cards) in enumerate(sections, start=1):
        suid = f"s{s_number}"
        data["item"].append(f"s:{suid}")
        data[f"{suid}-title"] = title
        for card in cards:
            n += 1
            uid = f"f{n}"
            data["item"].append(f"f:{uid}")
            for name, value in card.items():
                data[f"{uid}-{name}"] = value
    data.update(extra)
    return data


def _edit_url(review, form):
    return reverse("extraction:form-edit", args=[review.slug, form.pk])


def _sections(version):
    return [(s["title"], [i["key"] for i in s["items"]]) for s in version.definition["sections"]]


def test_an_admin_creates_a_form_and_builds_its_fields(client, review, review_admin):
    client.force_login(review_admin)
    response = client.post(
        reverse("extraction:form-create", args=[review.slug]),
        {"name": "Outcomes", "extractors_required": "2"},
    )
    form = ExtractionForm.objects.get()
    assert response["Location"] == _edit_url(review, form)
    assert form.extractors_required == 2
    assert "Start from a template" in client.get(_edit_url(review, form)).content.decode()
    data = draft_post(
        [
            ("Study", [{"label": "Country", "type": "text", "required": "on"}]),
            ("Outcomes", [{"label": "Relapse", "type": "dichotomous"}]),
        ],
        op="save",
    )
    response = client.post(_edit_url(review, form), data)
    assert response.status_code == 302
    version = form.versions.get()
    assert _sections(version) == [("Study", ["study_country"]), ("Outcomes", ["outcomes_relapse"])]
    assert version.definition["sections"][0]["items"][0]["required"] is True
    page = client.get(_edit_url(review, form)).content.decode()
    assert 'value="study_country"' in page
    assert "Start from a template" not in page


def test_blank_cards_and_empty_sections_are_never_saved(client, review, owner):
    form = ExtractionForm.objects.create(review=review, name="F")
    client.force_login(owner)
    data = draft_post(
        [
            ("Study", [{"label": "", "type": "text"}, {"label": "Country", "type": "text"}]),
            ("Empty section", [{"label": "  ", "type": "integer", "required": "on"}]),
            ("", [{"label": "", "type": "single_choice", "measure": "OR"}]),
        ],
        op="save",
    )
    assert client.post(_edit_url(review, form), data).status_code == 302
    assert _sections(form.versions.get()) == [("Study", ["study_country"])]


def test_options_that_do_not_apply_to_the_type_are_not_saved(client, review, owner):
    form = ExtractionForm.objects.create(review=review, name="F")
    client.force_login(owner)
    card = {"label": "Relapse", "type": "dichotomous", "measure": "OR", "choices": "a\nb"}
    card |= {"min": "1", "units": "people"}
    client.post(_edit_url(review, form), draft_post([("Outcomes", [card])], op="save"))
    item = form.versions.get().definition["sections"][0]["items"][0]
    assert item["measure"] == "" and item["units"] == "people"
    assert "choices" not in item and "min" not in item


def test_a_refused_save_names_section_field_and_problem_and_keeps_the_input(
    client, review, owner, dual_form
):
    client.force_login(owner)
    data = draft_post(
        [
            (
                "Study",
                [
                    {"label": "Design", "type": "single_choice", "choices": "RCT"},
                    {"label": "Country of recruitment", "type": "text", "help": "As reported"},
                ],
            ),
            (
                "Outcomes",
                [
                    {"label": "Time to relapse", "type": "estimate", "measure": ""},
                    {"label": "", "type": "integer", "help": "typed, but no label"},
                ],
            ),
            ("", [{"label": "Age", "type": "decimal", "min": "ten"}]),
        ],
        op="save",
    )
    response = client.post(_edit_url(review, dual_form), data)
    body = response.content.decode()
    assert response.status_code == 422
    assert "Nothing was saved: 5 problems to put right." in body
    assert (
        "Section &quot;Study&quot;, field &quot;Design&quot;: a choice field needs at least "
        "two choices." in body
    )
    assert "Section &quot;Outcomes&quot;, field &quot;Time to relapse&quot;: an estimate" in body
    assert "Section &quot;Outcomes&quot;, field 2 (no label): give the field a label." in body
    assert "Section 3: Give this section a title." in body
    assert "Section 3, field &quot;Age&quot;: the minimum must be a number" in body
    assert '<a href="#f1-label">Section &quot;Study&quot;, field &quot;Design&quot;' in body
    assert '<a href="#s3-title">Section 3: Give this section a title.</a>' in body
    # Beside the card too, and everything typed is still there.
    assert 'aria-invalid="true" aria-describedby="f1-errors"' in body
    assert 'value="Country of recruitment"' in body and 'value="As reported"' in body
    assert 'value="typed, but no label"' in body and 'value="ten"' in body
    assert dual_form.versions.count() == 1


def test_two_sections_with_one_title_are_refused(client, review, owner):
    form = ExtractionForm.objects.create(review=review, name="F")
    client.force_login(owner)
    data = draft_post(
        [("Study", [{"label": "A", "type": "text"}]), ("study", [{"label": "B", "type": "text"}])],
        op="save",
    )
    response = client.post(_edit_url(review, form), data)
    assert response.status_code == 422
    assert "Another section is already called" in response.content.decode()
    assert not form.versions.exists()


def test_an_empty_form_is_not_saved(client, review, owner):
    form = ExtractionForm.objects.create(review=review, name="F")
    client.force_login(owner)
    response = client.post(
        _edit_url(review, form), draft_post([("", [{"label": "", "type": "text"}])], op="save")
    )
    assert response.status_code == 422
    assert "The form has no fields yet" in response.content.decode()
    assert not form.versions.exists()


def test_a_change_makes_a_new_version_and_old_entries_keep_theirs(
    client, review, owner, reviewer, single_form, study
):
    entry = extraction_save(
        membership=membership_of(reviewer, review),
        form=single_form,
        study=study,
        raw=entry_sample(),
        expected_revision=0,
    )
    v1 = single_form.versions.get()
    client.force_login(owner)
    page = client.get(_edit_url(review, single_form)).content.decode()
    assert "Save as version 2" in page
    # The page's own cards, posted back with one label changed and the first card removed.
    from reviewapp.extraction.builder import draft_from_definition

    draft = draft_from_definition(v1.definition)
    sections = []
    for section in draft.sections:
        cards = []
        for card in section.fields:
            cards.append(
                {
                    "key": card.key,
                    "label": "Country of study"
                    if card.key == "study_design_country"
                    else card.label,
                    "type": card.type,
                    "choices": card.choices,
                    "min": card.min,
                    "max": card.max,
                    "measure": card.measure,
                    "units": card.units,
                    **({"required": "on"} if card.required else {}),
                }
            )
        sections.append((section.title, cards))
    response = client.post(_edit_url(review, single_form), draft_post(sections, op="save"))
    assert response.status_code == 302
    v2 = single_form.versions.get(number=2)
    first = v2.definition["sections"][0]["items"][0]
    assert (first["key"], first["label"]) == ("study_design_country", "Country of study")
    entry.refresh_from_db()
    assert entry.form_version == v1
    assert single_form.versions.get(number=1).definition == v1.definition
    # Posting the same again makes no third version.
    client.post(_edit_url(review, single_form), draft_post(sections, op="save"))
    assert single_form.versions.count() == 2


def test_without_script_the_buttons_change_the_draft_and_save_nothing(client, review, owner):
    form = ExtractionForm.objects.create(review=review, name="F")
    client.force_login(owner)
    sections = [
        ("Study", [{"label": "A", "type": "text"}, {"label": "B", "type": "text"}]),
        ("Outcomes", [{"label": "C", "type": "text"}]),
    ]
    url = _edit_url(review, form)
    body = client.post(url, draft_post(sections, op="up:f2")).content.decode()
    assert body.index('value="B"') < body.index('value="A"')
    body = client.post(url, draft_post(sections, op="down:f2")).content.decode()
    # Past the end of its section, a card moves to the start of the next one.
    assert body.index('value="Outcomes"') < body.index('value="B"') < body.index('value="C"')
    body = client.post(url, draft_post(sections, op="remove:f1")).content.decode()
    assert 'value="A"' not in body and 'value="B"' in body
    body = client.post(url, draft_post(sections, op="add-field:s2")).content.decode()
    # (The page's <template> for new cards has one more, named "__uid__".)
    assert body.count('value="f:f') == 4 and 'id="f4-label" name="f4-label" value=""' in body
    assert "autofocus" in body
    body = client.post(url, draft_post(sections, op="add-section")).content.decode()
    assert body.count('value="s:s') == 3
    body = client.post(url, draft_post(sections, op="down:s1")).content.decode()
    assert body.index('value="Outcomes"') < body.index('value="Study"')
    assert not form.versions.exists()


def test_a_template_fills_the_draft_and_is_saved_only_on_save(client, review, owner):
    form = ExtractionForm.objects.create(review=review, name="F")
    client.force_login(owner)
    url = _edit_url(review, form)
    response = client.post(url, draft_post([("", [{"label": ""}])], op="starter:rct-outcomes"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="Randomised to intervention (n)"' in body
    assert not form.versions.exists()


def test_a_form_is_created_from_a_starter_as_version_1(client, review, owner):
    client.force_login(owner)
    client.post(
        reverse("extraction:form-create", args=[review.slug]),
        {"name": "Cohorts", "extractors_required": "1", "starter": "cohort-characteristics"},
    )
    version = ExtractionForm.objects.get(name="Cohorts").versions.get()
    assert [s for s, _keys in _sections(version)] == [
        "Study",
        "Participants",
        "Exposure",
        "Outcome",
    ]


def test_the_preview_draws_the_draft_as_extractors_see_it_and_saves_nothing(
    client, review, owner, dual_form
):
    client.force_login(owner)
    data = draft_post(
        [
            ("Study", [{"label": "Design", "type": "single_choice", "choices": "RCT\nCohort"}]),
            ("Outcomes", [{"label": "Hazard", "type": "estimate", "measure": ""}]),
        ]
    )
    url = reverse("extraction:form-preview", args=[review.slug, dual_form.pk])
    response = client.post(url, data, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert '<select id="id_study_design"' in body and ">Cohort</option>" in body
    assert "Hazard, row 1" in body
    assert "Section &quot;Outcomes&quot;, field &quot;Hazard&quot;: an estimate needs" in body
    assert "<html" not in body
    assert dual_form.versions.count() == 1


@pytest.mark.parametrize("role", ["reviewer", "analyst"])
def test_reviewers_and_analysts_cannot_open_the_builder_or_its_preview(
    client, review, dual_form, request, role
):
    client.force_login(request.getfixturevalue(role))
    assert client.get(_edit_url(review, dual_form)).status_code == 403
    url = reverse("extraction:form-preview", args=[review.slug, dual_form.pk])
    assert client.post(url, draft_post([])).status_code == 403


def test_the_preview_answers_only_post(client, review, owner, dual_form):
    client.force_login(owner)
    url = reverse("extraction:form-preview", args=[review.slug, dual_form.pk])
    assert client.get(url).status_code == 405
