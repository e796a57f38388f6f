"""A merged cluster's primary, whose own record has no abstract nor DOI, shown with the cluster's
merged metadata on every page that shows a record, in a real browser at 1280x800 and 390x844,
as the owner and as a reviewer: the record's page, its history, the conflicts workspace and a
PRISMA box's list."""

import pytest

from reviewapp.literature import merges
from reviewapp.literature.models import DuplicateLink
from reviewapp.screening.services import decision_record
from tests.browser.look import look
from tests.conftest import membership_of
from tests.factories import ImportFactory, RecordFactory

pytestmark = pytest.mark.django_db(transaction=True)

ABSTRACT = (
    "BACKGROUND: Stopping natalizumab in relapsing-remitting multiple sclerosis may be followed by "
    "disease reactivation. METHODS: A meta-analysis of 12 cohorts after the last infusion."
)
DOI = "10.1212/WNL.0000000000001234"


@pytest.fixture
def merged_conflict(review, owner, reviewer2):
    pubmed = ImportFactory(review=review, file_name="pubmed.nbib", source_database="PubMed")
    embase = ImportFactory(review=review, file_name="embase.ris", source_database="Embase")
    kept = RecordFactory(
        review=review,
        source_import=pubmed,
        title="Disease reactivation after natalizumab discontinuation in multiple sclerosis",
        authors=["Prosperini, L"],
        journal="Neurology",
        year=2019,
        pmid="30111111",
    )
    copy = RecordFactory(
        review=review,
        source_import=embase,
        title="Disease reactivation after natalizumab discontinuation in multiple sclerosis",
        authors=["Prosperini, L", "Kinkel, RP"],
        journal="Neurology",
        year=2019,
        doi=DOI,
        abstract=ABSTRACT,
    )
    DuplicateLink.objects.create(
        review=review, primary=kept, duplicate=copy, rule="title_year_author"
    )
    merges.cluster_merge(membership=membership_of(owner, review), primary_id=kept.pk)
    for user, value in ((owner, "include"), (reviewer2, "exclude")):
        decision_record(
            membership=membership_of(user, review), record=kept, stage="ta", value=value
        )
    return kept


@pytest.mark.parametrize("viewport", ["wide", "phone"])
@pytest.mark.parametrize("role", ["owner", "reviewer"])
def test_each_page_shows_the_merged_abstract_and_doi(
    live_server, login, review, owner, reviewer, merged_conflict, role, viewport
):
    kept = merged_conflict
    page = login({"owner": owner, "reviewer": reviewer}[role], viewport=viewport)
    base = f"{live_server.url}/reviews/{review.slug}"
    pages = {
        "record": f"{base}/records/{kept.pk}/",
        "history": f"{base}/screen/ta/{kept.pk}/history/",
        "conflicts": f"{base}/screen/ta/conflicts/",
    }
    for name, url in pages.items():
        page.goto(url)
        text = page.locator("main").inner_text()
        assert "BACKGROUND" in text and f"DOI {DOI}" in text, name
        look(page, f"merged-{name}-{role}-{viewport}")
    page.goto(f"{base}/prisma/boxes/records_screened/")
    assert "Prosperini, L" in page.locator("main").inner_text()
    look(page, f"merged-prisma-box-{role}-{viewport}")
