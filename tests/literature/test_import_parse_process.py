"""Imports whose file is parsed in a second process (reviewapp.literature.parseproc): the same
records, links and errors as a parse in the importing process, and nothing written when the
parser process fails."""

from contextlib import contextmanager
from pathlib import Path

import pytest

from reviewapp.literature import parseproc, services
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.copyrows import RECORD_CONTENT_COLUMNS
from reviewapp.literature.models import DuplicateLink, Record
from reviewapp.literature.services import import_create, import_run
from reviewapp.reviews.services import review_create
from reviewapp.screening.models import RecordStageState
from tests.conftest import membership_of

WORDS = [
    "effect",
    "of",
    "early",
    "aspirin",
    "therapy",
    "on",
    "mortality",
    "after",
    "acute",
    "myocardial",
    "infarction",
    "in",
    "older",
    "adults",
    "with",
    "diabetes",
    "and",
    "chronic",
    "kidney",
    "disease",
    "randomised",
    "trial",
    "cohort",
    "outcomes",
    "among",
    "patients",
    "treated",
    "for",
    "hypertension",
    "statins",
    "exercise",
]


def _article(n: int, *, pmid: str, doi: str, title: str, year: int, author: str) -> str:
    ids = f'<ArticleId IdType="pubmed">{pmid}</ArticleId>' if pmid else ""
    ids += f'<ArticleId IdType="doi">{doi}</ArticleId>' if doi else ""
    return f"""<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">
{f"<PMID Version='1'>{pmid}</PMID>" if pmid else ""}<Article PubModel="Print">
<Journal><JournalIssue CitedMedium="Print"><Volume>{n % 40}</Volume><Issue>{n % 7}</Issue>
<PubDate><Year>{year}</Year></PubDate></JournalIssue><Title>Journal of tests</Title></Journal>
<ArticleTitle>{title}</ArticleTitle><Pagination><MedlinePgn>{n}-{n + 9}</MedlinePgn></Pagination>
<Abstract><AbstractText Label="BACKGROUND">Background of article {n}.</AbstractText>
<AbstractText Label="RESULTS">Results of article {n} &amp; more.</AbstractText></Abstract>
<AuthorList><Author ValidYN="Y"><LastName>{author}</LastName><ForeName>Ann</ForeName>
<Initials>A</Initials></Author><Author><LastName>Müller</LastName><Initials>JP</Initials></Author>
</AuthorList><Language>eng</Language><PublicationTypeList><PublicationType>Journal Article
</PublicationType></PublicationTypeList></Article><MeshHeadingList><MeshHeading>
<DescriptorName UI="D000001">Aspirin</DescriptorName></MeshHeading></MeshHeadingList>
</MedlineCitation><PubmedData><ArticleIdList>{ids}</ArticleIdList></PubmedData></PubmedArticle>
"""


def _title(n: int) -> str:
    words = [WORDS[(n * k + k) % len(WORDS)] for k in range(1, 10)]
    return f"{' '.join(words).capitalize()} number {n}."


def _pubmed_file(path: Path, count: int, *, cut: bool = False) -> Path:
    """`count` articles with planted duplicates (same PMID, same DOI in capitals, same title
    without identifiers, a near-identical title); with `cut`, the file breaks off in the middle."""
    articles = []
    for n in range(1, count + 1):
        title = _title(n)
        pmid, doi, author = str(10_000_000 + n), f"10.1000/test.{n}", f"Author{n % 50}"
        year = 2000 + n % 20
        if n % 10 == 3:
            pmid = str(10_000_000 + n - 1)  # the PMID of the record before
        elif n % 10 == 5:
            pmid, doi = "", f"10.1000/TEST.{n - 1}"  # the DOI of the record before
        elif n % 10 == 7:
            # The record before without identifiers, its title in capitals.
            pmid, doi, author, title = "", "", f"Author{(n - 1) % 50}", _title(n - 1).upper()
            year -= 1
        elif n % 10 == 9:
            # The title of the record before, a word changed: a title for a person to check.
            pmid, doi, author = "", "", f"Author{(n - 1) % 50}"
            title = _title(n - 1).replace(" number ", " nr ")
        articles.append(_article(n, pmid=pmid, doi=doi, title=title, year=year, author=author))
    text = "<?xml version='1.0' encoding='UTF-8'?>\n<PubmedArticleSet>\n" + "".join(articles)
    text += "</PubmedArticleSet>\n"
    if cut:
        text = text[: len(text) * 2 // 3]
    path.write_text(text, encoding="utf-8")
    return path


def _import(review, user, path: Path):
    with path.open("rb") as fileobj:
        imp = import_create(
            membership=membership_of(user, review), fileobj=fileobj, file_name=path.name
        )
    return import_run(import_id=imp.pk)


@pytest.fixture
def in_process(monkeypatch):
    """Count the imports whose file goes to a parser process; every file does."""
    calls = []
    real = services.batches_in_process

    @contextmanager
    def counted(*args, **kwargs):
        calls.append(args)
        with real(*args, **kwargs) as batches:
            yield batches

    monkeypatch.setattr(services, "PROCESS_MIN_BYTES", 0)
    monkeypatch.setattr(services, "batches_in_process", counted)
    return calls


def _stored(imp):
    rows = (
        Record.objects.filter(source_import=imp)
        .order_by("source_position")
        .values_list("source_position", "number", *RECORD_CONTENT_COLUMNS)
    )
    position = dict(Record.objects.filter(source_import=imp).values_list("id", "source_position"))
    links = sorted(
        (position[d], position[p], rule, score, status)
        for d, p, rule, score, status in DuplicateLink.objects.filter(
            duplicate__source_import=imp
        ).values_list("duplicate_id", "primary_id", "rule", "score", "status")
    )
    states = RecordStageState.objects.filter(record__source_import=imp).count()
    return list(rows), links, states


def test_a_file_parsed_in_a_second_process_stores_what_a_parse_in_the_importer_stores(
    owner, tmp_path, monkeypatch, in_process
):
    path = _pubmed_file(tmp_path / "articles.xml", 1200)
    here = review_create(title="Parsed here", slug="parsed-here", owner=owner)
    there = review_create(title="Parsed there", slug="parsed-there", owner=owner)

    monkeypatch.setattr(services, "PROCESS_MIN_BYTES", 1 << 40)
    imp_here = _import(here, owner, path)
    assert in_process == []
    monkeypatch.setattr(services, "PROCESS_MIN_BYTES", 0)
    imp_there = _import(there, owner, path)
    assert len(in_process) == 1

    assert imp_there.status == imp_here.status == JobStatus.DONE, imp_there.error
    counts = ("count_read", "count_imported", "count_duplicates", "count_rejected")
    assert [getattr(imp_there, c) for c in counts] == [getattr(imp_here, c) for c in counts]
    assert imp_there.count_imported == 1200
    rows, links, states = _stored(imp_there)
    assert (rows, links, states) == _stored(imp_here)
    assert {rule for _d, _p, rule, _s, _st in links} >= {"pmid", "doi", "title_year_author"}
    assert states == 1200


def test_a_file_that_breaks_off_fails_with_the_parsers_message_and_imports_nothing(
    owner, tmp_path, monkeypatch, in_process
):
    # Small batches: several are written before the parser reaches the break.
    monkeypatch.setattr(services, "BATCH_SIZE", 50)
    path = _pubmed_file(tmp_path / "cut.xml", 600, cut=True)
    here = review_create(title="Parsed here", slug="parsed-here", owner=owner)
    there = review_create(title="Parsed there", slug="parsed-there", owner=owner)

    imp_there = _import(there, owner, path)
    monkeypatch.setattr(services, "PROCESS_MIN_BYTES", 1 << 40)
    imp_here = _import(here, owner, path)

    assert len(in_process) == 1
    assert imp_there.status == JobStatus.FAILED
    assert "the XML breaks off in record" in imp_there.error
    assert imp_there.error == imp_here.error
    assert imp_there.count_imported == 0
    assert not Record.objects.filter(review=there).exists()
    assert not RecordStageState.objects.filter(review=there).exists()
    assert not DuplicateLink.objects.filter(review=there).exists()


def test_a_parser_process_that_dies_fails_the_import_and_leaves_nothing_written(
    review, owner, tmp_path, monkeypatch
):
    # Small batches, so the child is still sending when it is killed.
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    monkeypatch.setattr(services, "PROCESS_MIN_BYTES", 0)
    real = services.batches_in_process

    @contextmanager
    def killed_after_a_batch(*args, **kwargs):
        with real(*args, **kwargs) as batches:

            def first_then_killed():
                received = iter(batches)
                yield next(received)
                batches.process.kill()
                yield from received

            yield first_then_killed()

    monkeypatch.setattr(services, "batches_in_process", killed_after_a_batch)
    path = _pubmed_file(tmp_path / "articles.xml", 400)
    with path.open("rb") as fileobj:
        imp = import_create(
            membership=membership_of(owner, review), fileobj=fileobj, file_name=path.name
        )

    with pytest.raises(parseproc.ParseProcessFailed, match="stopped before the end"):
        import_run(import_id=imp.pk)

    imp.refresh_from_db()
    assert imp.status == JobStatus.FAILED
    assert "stopped on an internal error, so nothing was imported" in imp.error
    assert not Record.objects.filter(review=review).exists()
    assert not RecordStageState.objects.filter(review=review).exists()


def test_a_parser_process_that_cannot_open_the_file_says_why():
    with (
        pytest.raises(parseproc.ParseProcessFailed, match="FileNotFoundError"),
        parseproc.batches_in_process(
            "/nonexistent/records.xml", format="pubmed-xml", filename="records.xml", batch_size=10
        ) as batches,
    ):
        list(batches)


def _records_parsed_in_a_child(path: str) -> int:
    with parseproc.batches_in_process(
        path, format="pubmed-xml", filename="articles.xml", batch_size=7
    ) as batches:
        return sum(len(batch) for batch in batches)


def test_a_celery_pool_process_may_start_the_parser_process(tmp_path):
    # Celery's prefork pool runs tasks in daemonic processes, which multiprocessing forbids to
    # have children of their own; the parser is a plain subprocess.
    import billiard

    path = _pubmed_file(tmp_path / "articles.xml", 50)
    with billiard.Pool(1) as pool:
        assert pool.apply(_records_parsed_in_a_child, (str(path),)) == 50
