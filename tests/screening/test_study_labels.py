"""Study labels from the first author's surname with its particles (pure)."""

import pytest

from reviewapp.screening.study_labels import study_label_base, surname_with_particles


@pytest.mark.parametrize(
    ("author", "surname"),
    [
        # As the records store authors: "Surname, Initials".
        ("van Laarhoven, HWM", "van Laarhoven"),
        ("de la Cruz, M", "de la Cruz"),
        ("O'Brien, J", "O'Brien"),
        ("von Hippel, PT", "von Hippel"),
        ("Van der Berg, A", "Van der Berg"),
        ("Beane Freeman, LE", "Beane Freeman"),
        ("García-López, E", "García-López"),
        ("Smith", "Smith"),
        # Names that could not be split when imported.
        ("van Laarhoven HWM", "van Laarhoven"),
        ("Hanneke van Laarhoven", "van Laarhoven"),
        ("Maria de la Cruz", "de la Cruz"),
        ("Paul T. von Hippel", "von Hippel"),
        ("John O'Brien Jr", "O'Brien"),
        ("EPIC Study Group", "EPIC Study Group"),
        ("", ""),
        ("  ", ""),
    ],
)
def test_the_surname_keeps_its_particles(author, surname):
    assert surname_with_particles(author) == surname


def test_the_label_is_surname_and_year():
    assert study_label_base("van Laarhoven, HWM", 2020, fallback="Record 3") == "van Laarhoven 2020"
    assert study_label_base("O'Brien, J", None, fallback="Record 3") == "O'Brien"
    assert study_label_base("", 2019, fallback="Record 3") == "Record 3 2019"
