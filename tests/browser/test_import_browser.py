"""The import page shows structure warnings and rejected records (issue 12), at full width and,
for the warnings, within a 320 px screen."""

import io

import pytest

from reviewapp.literature.services import import_create, import_run
from tests.browser.conftest import screenshot
from tests.conftest import membership_of
from tests.literature.helpers import fixture_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def _imported(review, owner, name: str, data: bytes):
    with io.BytesIO(data) as fileobj:
        imp = import_create(
            membership=membership_of(owner, review), fileobj=fileobj, file_name=name
        )
    return import_run(import_id=imp.pk)


def _right_edge(locator) -> float:
    box = locator.bounding_box()
    return box["x"] + box["width"]


def test_the_import_page_shows_warnings_and_rejections_naming_records(
    live_server, login, review, owner
):
    warned = _imported(
        review, owner, "ris_missing_er.ris", fixture_bytes("malformed/ris_missing_er.ris")
    )
    long_title = ("A title pasted over and over " * 200).strip()
    rejected = _imported(
        review,
        owner,
        "long_title.ris",
        f"TY  - JOUR\nTI  - A fine record\nER  - \nTY  - JOUR\nTI  - {long_title}\nER  - \n".encode(),
    )
    page = login(owner)

    page.goto(f"{live_server.url}/reviews/{review.slug}/sources/imports/{warned.pk}/")
    block = page.locator("section.warning-block")
    assert block.locator("h2").inner_text() == "Check the file: 2 warnings"
    rows = block.locator("tbody tr")
    assert rows.count() == 2
    assert (
        rows.nth(0)
        .inner_text()
        .startswith("2\t6\trecord 2 (line 6): the record has no 'ER - ' line")
    )
    screenshot(page, "import-page-warnings")

    page.goto(f"{live_server.url}/reviews/{review.slug}/sources/imports/{rejected.pk}/")
    assert page.locator("section.warning-block").count() == 0
    row = page.locator("table tbody tr").first.inner_text()
    assert row.startswith("2\t4\ttitle\trecord 2 (line 4): the title is 5,799 characters long")
    assert page.get_by_role("link", name="Download as CSV").is_visible()
    screenshot(page, "import-page-rejection")

    page.set_viewport_size({"width": 320, "height": 800})
    page.goto(f"{live_server.url}/reviews/{review.slug}/sources/imports/{warned.pk}/")
    screenshot(page, "import-page-warnings-320")
    # The warnings wrap inside the page (the site header's own width at 320 px is not this
    # page's concern).
    assert _right_edge(page.locator("section.warning-block")) <= 320
