"""The conflicts workspace and the duplicate pairs in a real browser, at 1280x800 and 390x844:
conflicts resolved one after the other by keyboard, every vote's reasons and note in view, the
failures shown beside the buttons; a duplicate pair with its differing fields marked."""

import pytest

from reviewapp.literature.models import DuplicateLink
from reviewapp.screening.models import Decision, ExclusionReason
from reviewapp.screening.services import conflict_resolve, decision_record
from tests.browser.conftest import wait_for
from tests.browser.look import in_viewport, look
from tests.conftest import membership_of
from tests.factories import ImportFactory, RecordFactory

pytestmark = pytest.mark.django_db(transaction=True)

ABSTRACT = (
    "BACKGROUND: Stopping natalizumab in relapsing-remitting multiple sclerosis may be followed "
    "by disease reactivation. METHODS: We followed 120 patients for two years after the last "
    "infusion; relapses and new MRI lesions were recorded every three months. RESULTS: "
    "Reactivation occurred in 40% of patients, mostly within six months; none had progressive "
    "disease. CONCLUSIONS: A bridging "
    "therapy should be started early. "
) * 2
RITAS_NOTE = "Population includes progressive MS; check the full text."


@pytest.fixture
def conflicts(review, reviewer, reviewer2):
    review.keywords_include = ["natalizumab", "relaps*"]
    review.keywords_exclude = ["progressive"]
    review.save()
    records = RecordFactory.create_batch(
        5,
        review=review,
        abstract=ABSTRACT,
        authors=["Prosperini, L", "Kinkel, RP", "Miravalle, AA", "Iaffaldano, P"],
        journal="Multiple Sclerosis Journal",
        volume="25",
        pages="1201-9",
    )
    reason = ExclusionReason.objects.filter(review=review).order_by("position").first()
    for i, record in enumerate(records):
        decision_record(
            membership=membership_of(reviewer, review),
            record=record,
            stage="ta",
            value="exclude",
            reason_ids=[reason.pk],
            note=RITAS_NOTE if i == 0 else "",
        )
        decision_record(
            membership=membership_of(reviewer2, review),
            record=record,
            stage="ta",
            value="include",
            note="Relapsing cohort, fits." if i == 0 else "",
        )
    return records


def focused(page) -> int:
    return int(page.locator("#conflict-focus").get_attribute("data-record-id"))


def press_and_wait(page, key, *, until: str):
    page.keyboard.press(key)
    wait_for(page, until)


def test_an_admin_resolves_two_conflicts_in_a_row_by_keyboard_and_sees_a_refusal(
    live_server, login, review, owner, review_admin, conflicts
):
    url = f"{live_server.url}/reviews/{review.slug}/screen/ta/conflicts/"
    adam = login(review_admin)
    adam.goto(url)
    assert focused(adam) == conflicts[0].pk
    cards = adam.locator("[data-testid=vote-card]")
    assert cards.count() == 2
    text = adam.locator(".focus-votes").inner_text()
    assert RITAS_NOTE in text and "Wrong population" in text and "Relapsing cohort" in text
    assert adam.locator("#conflict-focus mark.kw-include").count() >= 1
    assert adam.locator("#conflict-focus mark.kw-exclude").count() >= 1
    look(adam, "conflicts-workspace-wide")
    in_viewport(adam, "#conflict-focus .record-title")
    in_viewport(adam, ".resolve-buttons button.include")

    # i: include the first; the second comes without a reload.
    adam.evaluate("window.__same_page = true")
    press_and_wait(
        adam, "i", until="document.querySelector('[data-testid=conflict-resolved]') !== null"
    )
    assert focused(adam) == conflicts[1].pk
    assert "included" in adam.locator("[data-testid=conflict-resolved]").inner_text()
    announced = adam.locator("#conflict-announce").text_content()
    assert "resolved: included. Now showing record" in announced
    assert adam.locator(f"#conflict-row-{conflicts[0].pk}").count() == 0
    assert adam.evaluate("window.__same_page === true")
    assert adam.url.endswith(f"/conflicts/{conflicts[1].pk}/")
    # 1 ticks the first reason, e excludes; the third conflict follows.
    adam.keyboard.press("1")
    press_and_wait(
        adam,
        "e",
        until=f"document.querySelector('#conflict-focus').dataset.recordId == '{conflicts[2].pk}'",
    )
    assert "excluded" in adam.locator("[data-testid=conflict-resolved]").inner_text()
    resolved = list(
        Decision.objects.filter(kind="adjudication").order_by("id").values_list("record", "value")
    )
    assert resolved == [(conflicts[0].pk, "include"), (conflicts[1].pk, "exclude")]
    second = Decision.objects.filter(kind="adjudication").order_by("id").last()
    assert list(second.reasons.values_list("label", flat=True)) == ["Wrong population"]
    # Every vote is still there: a resolution adds an event, it changes none.
    assert Decision.objects.filter(kind="vote").count() == 10

    # j and k move between conflicts.
    press_and_wait(
        adam,
        "j",
        until=f"document.querySelector('#conflict-focus').dataset.recordId == '{conflicts[3].pk}'",
    )
    press_and_wait(
        adam,
        "k",
        until=f"document.querySelector('#conflict-focus').dataset.recordId == '{conflicts[2].pk}'",
    )
    look(adam, "conflicts-after-two-wide")

    # Meanwhile the owner resolves the conflict adam is looking at: his resolution is refused,
    # beside the buttons, naming who settled it; the conflict stays on screen.
    conflict_resolve(
        membership=membership_of(owner, review), record=conflicts[2], stage="ta", value="exclude"
    )
    press_and_wait(
        adam, "i", until="document.querySelector('[data-testid=resolve-error]') !== null"
    )
    error = adam.locator("#resolve-errors").inner_text()
    assert "not in conflict" in error and "olivia resolved it" in error
    assert focused(adam) == conflicts[2].pk
    in_viewport(adam, "#resolve-errors")
    look(adam, "conflicts-refused-wide")
    assert Decision.objects.filter(kind="adjudication", record=conflicts[2]).count() == 1

    # The connection drops: nothing is lost, the message offers a retry that works.
    adam.keyboard.press("j")
    wait_for(
        adam, f"document.querySelector('#conflict-focus').dataset.recordId == '{conflicts[3].pk}'"
    )
    adam.route("**/resolve/", lambda route: route.abort())
    press_and_wait(adam, "e", until="document.querySelector('#resolve-errors .retry') !== null")
    assert "connection was lost" in adam.locator("#resolve-errors").inner_text()
    adam.unroute("**/resolve/")
    adam.locator("#resolve-errors .retry").click()
    wait_for(
        adam, f"document.querySelector('#conflict-focus').dataset.recordId == '{conflicts[4].pk}'"
    )
    assert Decision.objects.filter(kind="adjudication", record=conflicts[3]).count() == 1
    # Back: the conflict just resolved is shown as it is now, not as the browser last saw it.
    adam.go_back()
    wait_for(adam, "document.querySelector('[data-testid=conflict-gone]') !== null")
    assert adam.url.endswith(f"/conflicts/{conflicts[3].pk}/")


@pytest.mark.parametrize("role", ["owner", "reviewer", "analyst"])
def test_the_workspace_on_a_phone(live_server, login, request, review, role, conflicts):
    page = login(request.getfixturevalue(role), viewport="phone")
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/ta/conflicts/")
    assert focused(page) == conflicts[0].pk
    if role == "owner":
        # The buttons stay in reach (sticky) on a long abstract.
        page.locator("#conflict-focus .abstract").scroll_into_view_if_needed()
        in_viewport(page, ".resolve-buttons button.exclude")
    else:
        assert page.locator("[data-testid=resolve-form]").count() == 0
    # rita voted: she sees ravi's vote; the analyst sees both.
    assert "ravi" in page.locator(".focus-votes").inner_text()
    look(page, f"conflicts-workspace-phone-{role}")


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_a_duplicate_pair_shows_its_differences(live_server, login, review, reviewer, viewport):
    imp = ImportFactory(review=review, file_name="embase-export-2026-11.ris")
    kept = RecordFactory(
        review=review,
        title="Disease reactivation after natalizumab discontinuation in multiple sclerosis",
        authors=["Prosperini, L", "Kinkel, RP", "Miravalle, AA"],
        journal="Neurology",
        year=2019,
        volume="92",
        pages="e123-9",
        doi="10.1212/WNL.0000000000001234",
        pmid="30111111",
    )
    copy = RecordFactory(
        review=review,
        source_import=imp,
        title="Disease reactivation after natalizumab discontinuation in multiple sclerosis.",
        authors=["Prosperini, L", "Kinkel, R P", "Miravalle, A"],
        journal="NEUROLOGY",
        year=2020,
        volume="92",
        pages="e123-e129",
        doi="https://doi.org/10.1212/wnl.0000000000001234",
    )
    DuplicateLink.objects.create(
        review=review,
        primary=kept,
        duplicate=copy,
        rule="fuzzy_title",
        score=0.95,
        status="needs_review",
    )
    page = login(reviewer, viewport=viewport)
    page.goto(f"{live_server.url}/reviews/{review.slug}/duplicates/")
    different = page.locator("[data-testid=duplicate-pair] tr.diff-different th")
    assert sorted(t.split()[0] for t in different.all_inner_texts()) == ["Source", "Year"]
    assert page.locator("[data-testid=duplicate-pair] button", has_text="Same citation").count()
    look(page, f"duplicates-pair-{viewport}")
