"""The builder's draft without Django: parsing the page's order, the buttons, blank cards."""

from reviewapp.extraction.builder import (
    Draft,
    FieldCard,
    SectionCard,
    draft_apply,
    draft_from_definition,
    draft_from_post,
    draft_items,
)
from tests.extraction.helpers import definition_sample


class Post(dict):
    """A stand-in for a QueryDict: ``item`` holds a list, every other name one value."""

    def getlist(self, key):
        return list(self.get(key, []))


def _labels(draft):
    return [(s.title, [c.label for c in s.fields]) for s in draft.sections]


def test_cards_belong_to_the_section_before_them_in_page_order():
    post = Post(
        {
            "item": ["s:b", "f:x", "s:a", "f:z", "f:y", "f:bad!", "s:a"],
            "b-title": "Second",
            "a-title": "First",
            "x-label": "X",
            "y-label": "Y",
            "z-label": "Z",
        }
    )
    assert _labels(draft_from_post(post)) == [("Second", ["X"]), ("First", ["Z", "Y"])]


def test_a_card_before_any_section_gets_one():
    draft = draft_from_post(Post({"item": ["f:x"], "x-label": "X"}))
    assert _labels(draft) == [("", ["X"])]


def _draft():
    return Draft(
        [
            SectionCard("s1", "One", [FieldCard("a", label="A"), FieldCard("b", label="B")]),
            SectionCard("s2", "Two", [FieldCard("c", label="C")]),
        ]
    )


def test_moving_past_a_sections_end_crosses_into_the_next_or_previous():
    draft = _draft()
    draft_apply(draft, "down:b")
    assert _labels(draft) == [("One", ["A"]), ("Two", ["B", "C"])]
    draft_apply(draft, "up:b")
    assert _labels(draft) == [("One", ["A", "B"]), ("Two", ["C"])]
    draft_apply(draft, "up:a")
    assert _labels(draft) == [("One", ["A", "B"]), ("Two", ["C"])]
    draft_apply(draft, "down:s1")
    assert _labels(draft) == [("Two", ["C"]), ("One", ["A", "B"])]


def test_removing_and_adding():
    draft = _draft()
    assert draft_apply(draft, "remove:a") == "b"
    assert draft_apply(draft, "remove:s2") == "s1"
    new = draft_apply(draft, "add-field:s1")
    assert new not in ("a", "b", "c") and _labels(draft) == [("One", ["B", ""])]
    draft_apply(draft, "add-section")
    assert len(draft.sections) == 2
    assert draft_apply(draft, "up:nothing") == ""


def test_a_saved_definition_comes_back_as_the_same_rows():
    definition = definition_sample()
    rows, problems = draft_items(draft_from_definition(definition))
    assert problems == []
    assert [r["key"] for r in rows] == [
        i["key"] for s in definition["sections"] for i in s["items"]
    ]


def test_problems_are_kept_on_the_card_they_concern():
    draft = Draft(
        [
            SectionCard(
                "s1", "Study", [FieldCard("a", label="Age", type="decimal", min="5", max="1")]
            )
        ]
    )
    _rows, problems = draft_items(draft)
    assert problems == ['Section "Study", field "Age": the minimum (5) is above the maximum (1).']
    assert draft.sections[0].fields[0].errors == ["the minimum (5) is above the maximum (1)."]
