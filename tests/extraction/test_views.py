"""The extraction pages: builder, entry, comparison and consensus, for each role."""

import pytest
from django.urls import reverse

from reviewapp.extraction.constants import ExtractionKind
from reviewapp.extraction.models import Extraction, ExtractionForm
from reviewapp.extraction.services import extraction_save, form_version_save
from tests.conftest import membership_of
from tests.extraction.helpers import ROWS, entry_sample


def _post_entry(raw, **extra):
    """An entry as the browser posts it: one input per field and per outcome-row part."""
    data = {}
    for key, value in raw["values"].items():
        data[key] = value
    counts = {}
    for row in raw.get("outcomes", []):
        index = counts.get(row["group"], 0)
        counts[row["group"]] = index + 1
        for part, value in row.items():
            if part != "group":
                data[f"{row['group']}__{index}__{part}"] = value
    for group, n in counts.items():
        data[f"{group}__rows"] = str(n)
    data.update(extra)
    return data


def _extract_url(review, form, study):
    return reverse("extraction:study-extract", args=[review.slug, form.pk, study.pk])


def _compare_url(review, form, study):
    return reverse("extraction:study-compare", args=[review.slug, form.pk, study.pk])


@pytest.mark.parametrize("role", ["owner", "review_admin", "reviewer", "analyst"])
def test_every_member_opens_the_forms_page_with_a_form_and_its_latest_version(
    client, review, owner, dual_form, request, role
):
    # A second version, so the page must show the latest one, not the first.
    form_version_save(membership=membership_of(owner, review), form=dual_form, items=ROWS[:3])
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("extraction:form-list", args=[review.slug]))
    assert response.status_code == 200
    row = response.content.decode().split(">Outcomes</a>", 1)[1].split("</tr>", 1)[0]
    assert ">v2<" in row


def test_the_forms_page_says_when_a_form_has_no_fields_yet(client, review, owner):
    ExtractionForm.objects.create(review=review, name="Empty")
    client.force_login(owner)
    response = client.get(reverse("extraction:form-list", args=[review.slug]))
    assert "no fields yet" in response.content.decode()


@pytest.mark.parametrize("role", ["reviewer", "analyst"])
def test_reviewers_and_analysts_cannot_open_the_builder(client, review, dual_form, request, role):
    client.force_login(request.getfixturevalue(role))
    assert (
        client.get(reverse("extraction:form-edit", args=[review.slug, dual_form.pk])).status_code
        == 403
    )


def test_an_extractor_sees_a_message_beside_each_wrong_value(
    client, review, reviewer, dual_form, study
):
    client.force_login(reviewer)
    raw = entry_sample()
    raw["outcomes"][0]["arm1_events"] = "50"
    raw["outcomes"][2]["estimate"] = "4.0"
    response = client.post(
        _extract_url(review, dual_form, study), _post_entry(raw, revision="0", action="submit")
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "Arm 1 events (50) cannot exceed arm 1 total (40)." in body
    assert "The 95% CI (1.3 to 3.4) does not contain the estimate (4)." in body
    assert 'id="err_outcomes_relapse__0__arm1_events"' in body
    assert 'value="50"' in body  # what was typed is kept
    assert not Extraction.objects.exists()


def test_an_extractor_saves_a_draft_then_submits(client, review, reviewer, dual_form, study):
    client.force_login(reviewer)
    url = _extract_url(review, dual_form, study)
    response = client.post(url, _post_entry(entry_sample(), revision="0", action="draft"))
    assert response["Location"] == url
    extraction = Extraction.objects.get()
    assert extraction.submitted_at is None and extraction.revision == 1
    page = client.get(url).content.decode()
    assert 'value="Italy"' in page and 'name="revision" value="1"' in page
    client.post(url, _post_entry(entry_sample(), revision="1", action="submit"))
    extraction.refresh_from_db()
    assert extraction.submitted_at is not None and extraction.revision == 2


def test_a_stale_page_gets_a_conflict_message_instead_of_overwriting(
    client, review, reviewer, dual_form, study
):
    client.force_login(reviewer)
    url = _extract_url(review, dual_form, study)
    client.post(url, _post_entry(entry_sample(), revision="0", action="draft"))
    response = client.post(
        url, _post_entry(entry_sample(study_design_country="Spain"), revision="0", action="draft")
    )
    assert response.status_code == 409
    assert "after you opened it" in response.content.decode()
    assert Extraction.objects.get().data["values"]["study_design_country"] == "Italy"


def test_an_analyst_cannot_extract(client, review, analyst, dual_form, study):
    client.force_login(analyst)
    assert client.get(_extract_url(review, dual_form, study)).status_code == 403


def _submit(user, review, form, study, **overrides):
    return extraction_save(
        membership=membership_of(user, review),
        form=form,
        study=study,
        raw=entry_sample(**overrides),
        expected_revision=0,
        submit=True,
    )


def test_extraction_is_blinded_until_both_have_submitted(
    client, review, reviewer, reviewer2, dual_form, study
):
    _submit(reviewer, review, dual_form, study)
    extraction_save(
        membership=membership_of(reviewer2, review),
        form=dual_form,
        study=study,
        raw=entry_sample(participants_number="118"),
        expected_revision=0,
    )
    for user in (reviewer, reviewer2):
        client.force_login(user)
        response = client.get(_compare_url(review, dual_form, study))
        assert response.status_code == 403
        assert "blinded" in response.content.decode()
    extraction_save(
        membership=membership_of(reviewer2, review),
        form=dual_form,
        study=study,
        raw=entry_sample(participants_number="118"),
        expected_revision=1,
        submit=True,
    )
    response = client.get(_compare_url(review, dual_form, study))
    assert response.status_code == 200


def test_the_comparison_highlights_each_differing_field(
    client, review, reviewer, reviewer2, dual_form, study
):
    _submit(reviewer, review, dual_form, study)
    _submit(reviewer2, review, dual_form, study, participants_number="118")
    client.force_login(reviewer2)
    response = client.get(_compare_url(review, dual_form, study))
    compared = {c.key: c for c in response.context["compared"]}
    assert [k for k, c in compared.items() if c.differs] == ["participants_number"]
    body = response.content.decode()
    assert body.count('class="differs"') == 1
    assert "<mark>118</mark>" in body and "<mark>120</mark>" in body
    # The consensus form starts from what they agree on, leaving the difference blank.
    assert 'name="participants_number" value=""' in body
    assert 'name="study_design_country" value="Italy"' in body


def test_an_extractor_saves_the_consensus(client, review, reviewer, reviewer2, dual_form, study):
    _submit(reviewer, review, dual_form, study)
    _submit(reviewer2, review, dual_form, study, participants_number="118")
    client.force_login(reviewer)
    url = _compare_url(review, dual_form, study)
    response = client.post(url, _post_entry(entry_sample(participants_number="119"), revision="0"))
    assert response["Location"] == url
    consensus = Extraction.objects.get(kind=ExtractionKind.CONSENSUS)
    assert consensus.decided_by == reviewer
    assert consensus.data["values"]["participants_number"] == 119
    assert "decided by rita" in client.get(url).content.decode()


def test_an_analyst_may_compare_but_not_decide(
    client, review, reviewer, reviewer2, analyst, dual_form, study
):
    _submit(reviewer, review, dual_form, study)
    _submit(reviewer2, review, dual_form, study)
    client.force_login(analyst)
    url = _compare_url(review, dual_form, study)
    response = client.get(url)
    assert response.status_code == 200 and not response.context["may_decide"]
    assert client.post(url, _post_entry(entry_sample(), revision="0")).status_code == 404


def test_the_form_page_lists_included_studies_and_progress(
    client, review, reviewer, reviewer2, dual_form, study, django_assert_max_num_queries
):
    _submit(reviewer, review, dual_form, study)
    client.force_login(reviewer2)
    with django_assert_max_num_queries(30):
        response = client.get(reverse("extraction:form-detail", args=[review.slug, dual_form.pk]))
    body = response.content.decode()
    assert "Prosperini 2019" in body and "1 of 2" in body
