"""The benchmark database builder (bench/benchdb.py) writes what the app would have written.

A tiny build (3 reviews, about 1,300 records) in the test database, then the builder's own
`check`: the materialised screening rows equal what `stage_states_rebuild` makes from the events,
PRISMA adds up, duplicate links stay inside their review, the bench users can log in.
"""

import io

import pytest
from django.db import connection

from bench.benchdb import (
    BENCH_REVIEWERS,
    BENCH_SLUG,
    PASSWORD,
    _record_row,
    check,
    fill,
    review_sizes,
)
from bench.import_bench import Generator, corpus_load, pubmed_xml
from reviewapp.literature.constants import DuplicateStatus
from reviewapp.literature.copyrows import RECORD_CONTENT_COLUMNS as RECORD_FIELDS
from reviewapp.literature.models import DuplicateLink, Record
from reviewapp.literature.parsers import parse_pubmed_xml
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import ScreenState, Stage
from reviewapp.screening.models import Decision, RecordStageState, StageSettings
from reviewapp.synthesis.models import AnalysisResult

POSTGRES_ONLY = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): the builder writes with COPY",
)


def _quiet(*_args):
    pass


def test_sizes_at_full_scale():
    sizes = review_sizes(1.0, 50)
    assert len(sizes) == 50
    assert sizes[0] == 100_000
    assert 990_000 <= sum(sizes) <= 1_010_000
    others = sizes[1:]
    assert min(others) >= 500 and max(others) <= 100_000
    # Log-spread: many small reviews, a few large ones.
    assert sum(s < 10_000 for s in others) > 2 * sum(s > 50_000 for s in others) > 0


def test_record_rows_are_what_the_pubmed_parser_reads():
    gen = Generator(5, corpus_load())
    articles = [gen.article() for _ in range(200)]
    xml = (
        '<?xml version="1.0" ?>\n<PubmedArticleSet>\n'
        + "".join(pubmed_xml(a) for a in articles)
        + "</PubmedArticleSet>\n"
    )
    parsed = list(parse_pubmed_xml(io.BytesIO(xml.encode())))
    assert len(parsed) == len(articles)
    for article, record in zip(articles, parsed, strict=True):
        row = _record_row(article, "pubmed_xml")
        theirs = {f: getattr(record, f) for f in RECORD_FIELDS if hasattr(record, f)}
        theirs["abstract_sections"] = [
            {"label": s.label, "text": s.text} for s in record.abstract_sections
        ]
        assert {f: row[f] for f in theirs} == theirs


@POSTGRES_ONLY
@pytest.mark.django_db
def test_tiny_build_is_consistent():
    summary = fill(scale=0.01, reviews=3, seed=0, log=_quiet)
    assert summary["records"] == Record.objects.count() > 1000
    bench = Review.objects.get(slug=BENCH_SLUG)
    assert Record.objects.filter(review=bench).count() == 1000
    reviewers = Membership.objects.filter(review=bench, user__username__in=BENCH_REVIEWERS)
    assert reviewers.count() == 20
    assert set(
        StageSettings.objects.filter(review=bench).values_list("reviewers_required", "blinded")
    ) == {(2, True)}
    assert bench.keywords_include and bench.keywords_exclude
    # Part of the measured review is screened, most of it is not.
    ta = RecordStageState.objects.filter(review=bench, stage=Stage.TITLE_ABSTRACT)
    unscreened = ta.filter(state=ScreenState.UNSCREENED).count()
    assert 0.7 * ta.count() < unscreened < 0.95 * ta.count()
    # What real reviews carry: every kind of event and link, and computed analyses.
    kinds = set(Decision.objects.values_list("stage", "kind", "value"))
    assert {
        ("ta", "vote", "retract"),
        ("ta", "adjudication", "include"),
        ("ft", "vote", "exclude"),
    } <= kinds
    assert set(DuplicateLink.objects.values_list("status", flat=True)) >= {
        DuplicateStatus.AUTOMATIC,
        DuplicateStatus.CONFIRMED,
    }
    assert AnalysisResult.objects.exists()

    assert check(sample=2, log=_quiet) == []


@POSTGRES_ONLY
@pytest.mark.django_db
def test_check_finds_a_state_the_events_do_not_give():
    fill(scale=0.005, reviews=2, seed=1, log=_quiet)
    row = RecordStageState.objects.filter(state=ScreenState.UNSCREENED).order_by("id").first()
    RecordStageState.objects.filter(pk=row.pk).update(state=ScreenState.INCLUDED)
    problems = check(sample=1, password=False, log=_quiet)
    assert any("stage_states_rebuild changes the states" in p for p in problems)


@POSTGRES_ONLY
@pytest.mark.django_db
def test_bench_users_log_in_with_the_bench_password(client):
    fill(scale=0.002, reviews=1, seed=2, log=_quiet)
    for username in ("bench-owner", "bench-analyst", "bench-r0", "bench-r19"):
        response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
        assert response.status_code == 302, username
        client.logout()
