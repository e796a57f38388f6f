"""In a real browser: the PDF viewer beside the decision bar at the full-text stage and beside the
extraction form (issue 18 point 3): pages drawn by pdf.js with a selectable text layer, the
review's keywords marked in it, zoom and page count; the decision bar still in view at 1280x800,
and on a phone the viewer folded until opened."""

import urllib.request

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviewapp.screening.fulltext import report_upload
from reviewapp.screening.services import decision_record
from tests.browser.conftest import wait_for
from tests.browser.look import look
from tests.conftest import membership_of
from tests.pdf_builder import pdf_bytes

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = (
    "Natalizumab discontinuation in a randomised trial\nWe randomised 175 patients.",
    "Results on page two\nRelapses were counted in a cohort of patients.",
)
VIEWER = ".screen-current .pdf-viewer"


@pytest.fixture(autouse=True)
def _warm_live_server(live_server):
    # The live server's first request imports every view (scipy, matplotlib: seconds on a busy
    # machine), longer than the browser's page-load wait; take it outside the browser.
    urllib.request.urlopen(f"{live_server.url}/accounts/login/", timeout=120).read()


@pytest.fixture
def ft_record(review, reviewer, records):
    """A record at the full-text stage with a two-page PDF; the review highlights words."""
    review.keywords_include = ["randomi*"]
    review.keywords_exclude = ["cohort"]
    review.save()
    review.stage_settings.update(reviewers_required=1)
    record = records[0]
    decision_record(
        membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
    )
    report_upload(
        membership=membership_of(reviewer, review),
        record=record,
        upload=SimpleUploadedFile("trial.pdf", pdf_bytes(*PAGES), "application/pdf"),
    )
    return record


def drawn_pages(page) -> str:
    return f"document.querySelectorAll('{VIEWER} .pdf-page-drawn').length"


def test_the_full_text_is_read_beside_the_decision_bar_with_keywords_marked(
    live_server, login, review, reviewer, ft_record
):
    page = login(reviewer)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ft/")
    wait_for(page, f"{drawn_pages(page)} >= 1")
    viewer = page.locator(VIEWER)
    assert viewer.locator("[data-page-count]").inner_text() == "2"
    # The text layer holds the page's words, so they can be selected and searched.
    text = viewer.locator(".pdf-page[data-page='1'] .textLayer").inner_text()
    assert "Natalizumab discontinuation" in text
    include = viewer.locator(".textLayer mark.kw-include")
    assert include.first.inner_text().lower().startswith("randomi")
    # The decision bar is on screen without scrolling, below the viewer.
    bar = page.locator(".screen-current .decision-bar").bounding_box()
    assert bar is not None and bar["y"] + bar["height"] <= 800
    box = viewer.bounding_box()
    assert box is not None and box["y"] < bar["y"]
    # Page two is drawn when it scrolls into view, with its exclusion word marked.
    viewer.locator(".pdf-page[data-page='2']").scroll_into_view_if_needed()
    wait_for(page, f"{drawn_pages(page)} == 2")
    assert viewer.locator(".pdf-page[data-page='2'] mark.kw-exclude").inner_text() == "cohort"
    # Zoom redraws the pages larger.
    width = viewer.locator(".pdf-page[data-page='1']").bounding_box()["width"]
    viewer.get_by_role("button", name="Zoom in").click()
    wait_for(page, f"{drawn_pages(page)} >= 1")
    assert viewer.locator(".pdf-page[data-page='1']").bounding_box()["width"] > width
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
    look(page, "screening-ft-pdf-viewer")


def test_on_a_phone_the_viewer_is_folded_until_opened(
    live_server, login, review, reviewer, ft_record
):
    page = login(reviewer, viewport="phone")
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ft/")
    fold = page.locator(".screen-current details.pdf-fold")
    wait_for(page, "document.querySelector('.screen-current details.pdf-fold').open === false")
    look(page, "screening-ft-pdf-folded")
    fold.locator(":scope > summary").click()
    wait_for(page, f"{drawn_pages(page)} >= 1")
    assert "randomi" in page.locator(f"{VIEWER} mark.kw-include").first.inner_text().lower()
    look(page, "screening-ft-pdf-open")


@pytest.fixture
def study_with_pdf(review, owner, reviewer):
    """An included study whose report has a PDF, and a two-extractor form."""
    from reviewapp.extraction.models import ExtractionForm
    from reviewapp.extraction.services import form_version_save
    from tests.extraction.helpers import ROWS, study_included

    review.keywords_include = ["randomi*"]
    review.keywords_exclude = ["cohort"]
    review.save()
    study = study_included(review, owner, label="Prosperini 2019")
    report_upload(
        membership=membership_of(owner, review),
        record=study.reports.get().record,
        upload=SimpleUploadedFile("prosperini.pdf", pdf_bytes(*PAGES), "application/pdf"),
    )
    form = ExtractionForm.objects.create(review=review, name="Outcomes", extractors_required=2)
    form_version_save(membership=membership_of(owner, review), form=form, items=ROWS)
    return study, form


@pytest.mark.parametrize("viewport", ["wide", "phone"])
@pytest.mark.parametrize("role", ["reviewer", "owner"])
def test_the_full_text_is_read_beside_the_extraction_form(
    request, live_server, login, review, study_with_pdf, viewport, role
):
    study, form = study_with_pdf
    page = login(request.getfixturevalue(role), viewport=viewport)
    page.goto(
        f"{live_server.url}/reviews/{review.slug}/extraction/forms/{form.pk}/studies/{study.pk}/"
    )
    if viewport == "phone":
        page.locator("details.pdf-fold > summary").click()
    wait_for(page, "document.querySelectorAll('.pdf-viewer .pdf-page-drawn').length >= 1")
    viewer = page.locator(".pdf-viewer")
    assert "randomi" in viewer.locator("mark.kw-include").first.inner_text().lower()
    if viewport == "wide":
        # Beside the form: the viewer's left edge is right of the form's.
        assert viewer.bounding_box()["x"] > page.locator("form.extract-form").bounding_box()["x"]
    look(page, f"extraction-pdf-viewer-{role}-{viewport}")


def in_view(page, selector: str) -> bool:
    """Whether the element is inside the viewer's visible pages (scrolled to, not just drawn)."""
    return page.evaluate(
        """(selector) => {
          const el = document.querySelector(selector).getBoundingClientRect();
          const box = document.querySelector('.pdf-pages').getBoundingClientRect();
          return el.top >= box.top && el.bottom <= box.bottom;
        }""",
        selector,
    )


def select_text(page, selector: str, text: str) -> None:
    """Select ``text`` inside the first element matching ``selector`` as a mouse would, and let
    the viewer see the mouse-up (once it has its annotations and listens)."""
    wait_for(
        page,
        "[...document.querySelectorAll('.pdf-viewer')].every(v => v.dataset.annotationsReady || !v.closest('details[open]'))",
    )
    page.evaluate(
        """([selector, text]) => {
          const root = document.querySelector(selector);
          const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          let node;
          while ((node = walker.nextNode())) {
            const at = node.textContent.indexOf(text);
            if (at >= 0) {
              const range = document.createRange();
              range.setStart(node, at);
              range.setEnd(node, at + text.length);
              const selection = window.getSelection();
              selection.removeAllRanges();
              selection.addRange(range);
              root.closest('.pdf-pages').dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
              return;
            }
          }
          throw new Error('text not found: ' + text);
        }""",
        [selector, text],
    )


def test_a_reviewer_comments_on_a_passage_and_links_one_to_a_field_seen_on_the_comparison(
    live_server, login, review, reviewer, reviewer2, analyst, study_with_pdf
):
    from reviewapp.screening.models import Annotation
    from tests.blinding import extract

    study, form = study_with_pdf
    page = login(reviewer)
    base = f"{live_server.url}/reviews/{review.slug}/extraction/forms/{form.pk}/studies/{study.pk}/"
    page.goto(base)
    wait_for(page, "document.querySelectorAll('.pdf-viewer .pdf-page-drawn').length >= 1")
    viewer = page.locator(".pdf-viewer")
    # A comment on a passage.
    select_text(page, ".pdf-page[data-page='1'] .textLayer", "Natalizumab discontinuation")
    annotate = viewer.locator("form.pdf-annotate")
    annotate.wait_for()
    assert "Natalizumab discontinuation" in annotate.locator(".pdf-annotate-quote").inner_text()
    annotate.get_by_label("Comment").fill("Check the dates of stopping")
    annotate.get_by_role("button", name="Comment", exact=True).click()
    wait_for(page, "document.querySelectorAll('.pdf-annotation-list li').length === 1")
    assert viewer.locator(".pdf-page[data-page='1'] .pdf-annotation").count() >= 1
    # The source of a field: "We randomised 175 patients" gives the number of participants.
    select_text(page, ".pdf-page[data-page='1'] .textLayer", "175 patients")
    annotate.wait_for()
    annotate.locator("select[name=field_key]").select_option(label="Participants: Number")
    annotate.get_by_role("button", name="Source for field").click()
    wait_for(page, "document.querySelectorAll('.pdf-annotation-list li').length === 2")
    assert "Source of Participants: Number" in viewer.locator(".pdf-annotation-list").inner_text()
    look(page, "extraction-pdf-annotated")
    source = Annotation.objects.get(field_key="participants_number")
    assert (source.author, source.page, source.quote) == (reviewer, 1, "175 patients")
    assert source.form == form
    comment = Annotation.objects.get(field_key="")
    assert comment.comment == "Check the dates of stopping"

    # Once both entries are in, the comparison shows the value's source and jumps to it.
    extract(reviewer, review, form, study, submit=True)
    extract(reviewer2, review, form, study, submit=True)
    for user in (reviewer2, analyst):
        other = login(user)
        other.goto(f"{base}compare/")
        link = other.locator("a.value-source", has_text="175 patients")
        assert link.count() == 1 and "p.\xa01" in link.inner_text()
        wait_for(other, "document.querySelectorAll('.pdf-viewer .pdf-page-drawn').length >= 1")
        wait_for(other, "document.querySelectorAll('.pdf-annotation-list li').length === 2")
        link.click()
        wait_for(other, f"document.querySelector('.pdf-viewer').dataset.jumpedTo === '{source.pk}'")
        assert other.locator(f".pdf-annotation-focus[data-annotation='{source.pk}']").count() >= 1
        assert in_view(other, f".pdf-annotation-focus[data-annotation='{source.pk}']")
        # Another member's annotations are listed without a Delete button.
        assert other.locator(".pdf-annotation-list button", has_text="Delete").count() == 0
        look(other, f"extraction-compare-sources-{user.username}")
    # On a phone the link opens the page with the viewer unfolded at the passage.
    phone = login(analyst, viewport="phone")
    phone.goto(f"{base}compare/")
    look(phone, "extraction-compare-sources-phone")
    phone.locator("a.value-source", has_text="175 patients").click()
    wait_for(phone, f"document.querySelector('.pdf-viewer').dataset.jumpedTo === '{source.pk}'")
    assert in_view(phone, f".pdf-annotation-focus[data-annotation='{source.pk}']")
    look(phone, "extraction-compare-source-opened-phone")
    # The author deletes their comment from the list.
    page.goto(base)
    wait_for(page, "document.querySelectorAll('.pdf-annotation-list li').length === 2")
    page.locator(".pdf-annotation-list li", has_text="Check the dates").get_by_role(
        "button", name="Delete"
    ).click()
    wait_for(page, "document.querySelectorAll('.pdf-annotation-list li').length === 1")
    assert not Annotation.objects.filter(pk=comment.pk).exists()


def test_the_owner_reads_and_annotates_at_the_full_text_stage(
    live_server, login, review, owner, ft_record
):
    for viewport in ("wide", "phone"):
        page = login(owner, viewport=viewport)
        page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ft/")
        if viewport == "phone":
            page.locator(".screen-current details.pdf-fold > summary").click()
        wait_for(page, f"{drawn_pages(page)} >= 1")
        select_text(page, f"{VIEWER} .pdf-page[data-page='1'] .textLayer", "discontinuation")
        annotate = page.locator(f"{VIEWER} form.pdf-annotate")
        annotate.wait_for()
        # No extraction form here: a comment only.
        assert annotate.locator("select[name=field_key]").count() == 0
        annotate.get_by_label("Comment").fill(f"Design stated ({viewport})")
        annotate.get_by_role("button", name="Comment", exact=True).click()
        wait_for(page, f"document.querySelectorAll('{VIEWER} .pdf-annotation-list li').length >= 1")
        look(page, f"screening-ft-annotated-{viewport}")
