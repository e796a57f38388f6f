"""Annotations of full texts (issue 18 point 4): services, blinding and views, on PostgreSQL.

A passage is marked with a comment or as the source of an extracted value; only its author
changes or deletes it; in dual extraction another extractor's annotations stay hidden where
their entry would (reviewapp.core.blinding.annotations_visible); the comparison page shows each
value's source passage with a link to it in the viewer."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from reviewapp.core.errors import ServiceError
from reviewapp.screening.annotations import (
    annotation_create,
    annotation_delete,
    annotation_update,
    annotations_for_file,
)
from reviewapp.screening.fulltext import report_upload
from reviewapp.screening.models import Annotation
from tests.blinding import extract
from tests.conftest import membership_of
from tests.pdf_builder import pdf_bytes

RECTS = [[0.08, 0.05, 0.5, 0.02]]
PASSAGE = "ritas-passage-q7 We randomised 175 patients"


@pytest.fixture
def pdf(review, owner, study):
    """The study's report with an uploaded PDF; returns the upload (ReportFile)."""
    report = report_upload(
        membership=membership_of(owner, review),
        record=study.reports.get().record,
        upload=SimpleUploadedFile(
            "trial.pdf", pdf_bytes("We randomised 175 patients in Italy."), "application/pdf"
        ),
    )
    return report.files.get()


def mark(user, review, pdf, **kwargs):
    values = {"page": 1, "quote": PASSAGE, "rects": RECTS, "comment": "ritas-comment-q7"}
    values.update(kwargs)
    return annotation_create(membership=membership_of(user, review), report_file=pdf, **values)


def visible_to(user, review, pdf) -> list[int]:
    return [a.pk for a in annotations_for_file(membership_of(user, review), pdf)]


# --- services -----------------------------------------------------------------------------------


def test_a_reviewer_marks_a_passage_with_a_comment(review, reviewer, pdf):
    annotation = mark(reviewer, review, pdf, quote="  We randomised\n 175   patients ")
    stored = Annotation.objects.get(pk=annotation.pk)
    assert (stored.author, stored.page, stored.quote) == (reviewer, 1, "We randomised 175 patients")
    assert stored.rects == RECTS and stored.comment == "ritas-comment-q7"
    assert stored.form is None and stored.field_key == "" and stored.extraction is None


def test_a_passage_linked_to_a_field_is_tied_to_the_authors_own_entry(
    review, reviewer, pdf, dual_form, study
):
    entry = extract(reviewer, review, dual_form, study, submit=False)
    annotation = mark(
        reviewer, review, pdf, comment="", form=dual_form, field_key="study_design_country"
    )
    assert (annotation.form, annotation.field_key, annotation.extraction) == (
        dual_form,
        "study_design_country",
        entry,
    )


def test_a_field_that_is_not_on_the_form_is_refused_by_name(review, reviewer, pdf, dual_form):
    with pytest.raises(ServiceError) as refused:
        mark(reviewer, review, pdf, form=dual_form, field_key="no_such_field")
    assert "no_such_field" in refused.value.message and refused.value.field == "field_key"
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"comment": ""}, "comment"),
        ({"quote": "   "}, "quote"),
        ({"rects": []}, "rects"),
        ({"rects": [[0.5, 0.5, 2, 0.1]]}, "rects"),
        ({"rects": [["x", 0, 1, 1]]}, "rects"),
        ({"page": 0}, "page"),
        ({"comment": "x" * 5001}, "comment"),
    ],
)
def test_a_malformed_annotation_is_refused_naming_what_is_wrong(
    review, reviewer, pdf, change, field
):
    with pytest.raises(ServiceError) as refused:
        mark(reviewer, review, pdf, **change)
    assert refused.value.field == field
    assert not Annotation.objects.exists()


def test_an_analyst_reads_but_does_not_annotate(review, analyst, pdf):
    with pytest.raises(ServiceError, match="Analysts read"):
        mark(analyst, review, pdf)


def test_only_the_author_changes_or_deletes_an_annotation(review, reviewer, reviewer2, pdf):
    annotation = mark(reviewer, review, pdf)
    with pytest.raises(ServiceError, match="only your own"):
        annotation_update(
            membership=membership_of(reviewer2, review), annotation=annotation, comment="mine now"
        )
    with pytest.raises(ServiceError, match="only your own"):
        annotation_delete(membership=membership_of(reviewer2, review), annotation=annotation)
    annotation_update(
        membership=membership_of(reviewer, review), annotation=annotation, comment="second look"
    )
    assert Annotation.objects.get(pk=annotation.pk).comment == "second look"
    annotation_delete(membership=membership_of(reviewer, review), annotation=annotation)
    assert not Annotation.objects.exists()


# --- blinding (dual extraction) ------------------------------------------------------------------


def test_in_dual_extraction_the_second_extractor_sees_the_first_ones_annotations_only_once_both_entries_are_in(
    review, reviewer, reviewer2, pdf, dual_form, study
):
    extract(reviewer, review, dual_form, study, submit=True)
    source = mark(
        reviewer, review, pdf, comment="", form=dual_form, field_key="study_design_country"
    )
    comment = mark(reviewer, review, pdf)
    # reviewer2 may still take the second place: nothing of rita's shows.
    assert visible_to(reviewer2, review, pdf) == []
    draft = extract(reviewer2, review, dual_form, study, submit=False)
    assert visible_to(reviewer2, review, pdf) == []
    assert sorted(visible_to(reviewer, review, pdf)) == sorted([source.pk, comment.pk])
    extract(reviewer2, review, dual_form, study, submit=True, revision=draft.revision)
    assert sorted(visible_to(reviewer2, review, pdf)) == sorted([source.pk, comment.pk])


def test_an_owner_who_may_take_the_free_place_does_not_see_them_and_an_analyst_does(
    review, owner, analyst, reviewer, pdf, dual_form, study
):
    extract(reviewer, review, dual_form, study, submit=True)
    annotation = mark(reviewer, review, pdf)
    assert visible_to(owner, review, pdf) == []
    assert visible_to(analyst, review, pdf) == [annotation.pk]


def test_without_dual_extraction_every_member_sees_the_annotations(
    review, reviewer, reviewer2, pdf, single_form
):
    annotation = mark(reviewer, review, pdf)
    assert visible_to(reviewer2, review, pdf) == [annotation.pk]


# --- views ---------------------------------------------------------------------------------------


def _url(review, pdf, name="screening:report-annotations", *extra):
    return reverse(name, args=[review.slug, pdf.report_id, pdf.pk, *extra])


def test_the_viewer_adds_and_lists_annotations_as_json(client, review, reviewer, pdf, dual_form):
    client.force_login(reviewer)
    response = client.post(
        _url(review, pdf),
        {
            "page": "1",
            "quote": PASSAGE,
            "rects": json.dumps(RECTS),
            "comment": "",
            "form": str(dual_form.pk),
            "field_key": "participants_number",
        },
    )
    assert response.status_code == 201, response.content
    created = response.json()["annotation"]
    assert created["field_label"] == "Participants: Number" and created["mine"] is True
    listed = client.get(_url(review, pdf)).json()
    assert listed["can_annotate"] is True
    assert [a["id"] for a in listed["annotations"]] == [created["id"]]


def test_a_refused_annotation_answers_422_with_the_reason(client, review, reviewer, pdf):
    client.force_login(reviewer)
    response = client.post(
        _url(review, pdf), {"page": "1", "quote": PASSAGE, "rects": json.dumps(RECTS)}
    )
    assert response.status_code == 422
    assert "Write a comment" in response.json()["error"]
    response = client.post(_url(review, pdf), {"page": "one", "quote": PASSAGE, "rects": "[]"})
    assert response.status_code == 422 and not Annotation.objects.exists()


def test_an_analyst_is_refused_with_403(client, review, analyst, pdf):
    client.force_login(analyst)
    response = client.post(
        _url(review, pdf),
        {"page": "1", "quote": PASSAGE, "rects": json.dumps(RECTS), "comment": "a note"},
    )
    assert response.status_code == 403 and "Analysts" in response.json()["error"]
    assert client.get(_url(review, pdf)).json()["can_annotate"] is False


def test_an_outsider_gets_404(client, review, outsider, pdf):
    client.force_login(outsider)
    assert client.get(_url(review, pdf)).status_code == 404


def test_another_members_annotation_cannot_be_deleted_or_changed(
    client, review, reviewer, reviewer2, pdf
):
    annotation = mark(reviewer, review, pdf)
    client.force_login(reviewer2)
    assert (
        client.post(_url(review, pdf, "screening:annotation-delete", annotation.pk)).status_code
        == 404
    )
    assert (
        client.post(
            _url(review, pdf, "screening:annotation-edit", annotation.pk), {"comment": "x"}
        ).status_code
        == 404
    )
    client.force_login(reviewer)
    response = client.post(
        _url(review, pdf, "screening:annotation-edit", annotation.pk), {"comment": "edited"}
    )
    assert response.status_code == 200 and response.json()["annotation"]["comment"] == "edited"
    response = client.post(_url(review, pdf, "screening:annotation-delete", annotation.pk))
    assert response.status_code == 200 and not Annotation.objects.exists()


def test_the_comparison_shows_each_values_source_passage_with_a_link_to_it(
    client, review, reviewer, reviewer2, pdf, dual_form, study
):
    extract(reviewer, review, dual_form, study, submit=True)
    extract(reviewer2, review, dual_form, study, submit=True)
    annotation = mark(
        reviewer, review, pdf, comment="", form=dual_form, field_key="study_design_country"
    )
    table_source = mark(
        reviewer2,
        review,
        pdf,
        comment="",
        quote="ritas-table-q7",
        form=dual_form,
        field_key="outcomes_relapse",
    )
    client.force_login(reviewer2)
    page = client.get(
        reverse("extraction:study-compare", args=[review.slug, dual_form.pk, study.pk])
    ).content.decode()
    assert PASSAGE in page
    assert f'href="?file={pdf.pk}#annotation-{annotation.pk}"' in page
    # A table's source shows beside each of its cells.
    assert page.count(f"#annotation-{table_source.pk}") > 1
    assert 'class="pdf-viewer"' in page


def test_the_comparison_shows_no_source_while_it_is_blinded(
    client, review, owner, reviewer, pdf, dual_form, study
):
    extract(reviewer, review, dual_form, study, submit=True)
    mark(reviewer, review, pdf, comment="", form=dual_form, field_key="study_design_country")
    client.force_login(owner)
    response = client.get(
        reverse("extraction:study-compare", args=[review.slug, dual_form.pk, study.pk])
    )
    assert response.status_code == 403 and "ritas-passage-q7" not in response.content.decode()
