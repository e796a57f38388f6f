"""Writes on literature: importing files of records and linking duplicates.

An import runs in one transaction: a file either lands whole (minus the records it rejects, each
reported with its place in the file) or not at all. Records stream through in batches, so a
100,000-record file never sits in memory.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.db.models.fields.json import KT
from django.utils import timezone

from reviewapp.core.db import ANALYZE_AFTER_ROWS, tables_analyze
from reviewapp.core.errors import ServiceError
from reviewapp.core.filenames import upload_name_clean
from reviewapp.core.jobs import JobClaim, JobLost, job_claim, job_requeue
from reviewapp.core.permissions import require
from reviewapp.core.progress import progress_write
from reviewapp.core.tally import source_key, tally_add
from reviewapp.core.uploads import disk_copy
from reviewapp.literature import copyrows, matching
from reviewapp.literature.bulk import BulkWriter
from reviewapp.literature.constants import (
    DuplicateRule,
    DuplicateStatus,
    ImportFormat,
    JobStatus,
    SourceKind,
)
from reviewapp.literature.models import (
    DuplicateLink,
    Import,
    Record,
    Search,
    review_records_lock,
)
from reviewapp.literature.parseproc import (
    PROCESS_MIN_BYTES,
    TITLE_KEY_LENGTH,
    PreparedRecord,
    batches_in_process,
    prepare_record,
)
from reviewapp.literature.parsers import (
    FileUnreadable,
    ParsedRecord,
    ParserFault,
    ParseWarning,
    Rejection,
    detect_format,
    parse,
)
from reviewapp.literature.parsers.normalise import surname_of
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import ScreenState, Stage
from reviewapp.screening.models import RecordStageState
from reviewapp.screening.state import queue_key, state_rows_added

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
# Exact identifiers are safe to remove automatically; a similar title waits for a person.
AUTOMATIC_RULES = {DuplicateRule.PMID, DuplicateRule.DOI, DuplicateRule.TITLE_YEAR_AUTHOR}
# A file whose every record lacks its end line would give one warning per record; the first
# ones say what is wrong, the count says how often.
WARNINGS_KEPT = 100


def import_create(
    *,
    membership: Membership,
    fileobj,
    file_name: str,
    format: str = "auto",
    source_database: str = "",
    source_kind: str = SourceKind.DATABASE,
) -> Import:
    """Store an uploaded file as a queued Import of the review; `import_run` does the work."""
    require(membership, Capability.MANAGE_REVIEW)
    # The name is the client's choice: shown on pages, used on disk and in download headers.
    file_name = upload_name_clean(file_name, default="upload")
    if format != "auto" and format not in ImportFormat.values:
        raise ServiceError(
            f"'{format}' is not a format we read; use one of auto, {', '.join(ImportFormat.values)}.",
            field="format",
        )
    size = getattr(fileobj, "size", None)
    if size is not None and size > settings.UPLOAD_MAX_BYTES:
        raise ServiceError(
            f"{file_name} is {size // (1024 * 1024)} MB; the largest file accepted is "
            f"{settings.UPLOAD_MAX_BYTES // (1024 * 1024)} MB.",
            field="file",
        )
    if size == 0:
        raise ServiceError(f"{file_name} is empty.", field="file")
    record = Import(
        review=membership.review,
        file_name=file_name,
        format="" if format == "auto" else format,
        source_database=source_database.strip()[:100],
        source_kind=source_kind,
        created_by=membership.user,
    )
    with disk_copy(record.file.storage, fileobj, file_name) as content:
        record.file.save(file_name, content, save=False)
    record.save()
    return record


# An import's results when it has added nothing: before a rerun, and after an unreadable file.
NOTHING_IMPORTED = {
    "count_read": 0,
    "count_imported": 0,
    "count_duplicates": 0,
    "count_rejected": 0,
    "rejections": [],
    "count_warnings": 0,
    "warnings": [],
    "progress_done": 0,
}


def _pubmed_fetch(terms: list[str]) -> Iterator[bytes]:
    """PubMed XML for each term of a PMID/DOI list (see `parsers.idlist`), through Entrez.

    An Entrez failure becomes FileUnreadable, so the import fails with the reason and, being
    one transaction, adds nothing.
    """
    # Imported here: searches imports this module.
    from reviewapp.integrations.entrez import EntrezError
    from reviewapp.literature.searches import pubmed_client

    client = pubmed_client()
    try:
        for term in terms:
            result = client.search(term)
            for batch in client.fetch_batches(result, batch_size=BATCH_SIZE // 2):
                yield batch.xml
    except EntrezError as error:
        raise FileUnreadable(
            f"PubMed could not be asked for the listed records: {error}"
        ) from error


def import_retry(*, membership: Membership, imp: Import) -> Import:
    """Queue a failed import again; it left nothing behind, so it starts from the beginning.

    The caller sends it with core.jobs.job_enqueue.
    """
    require(membership, Capability.MANAGE_REVIEW)
    if imp.review_id != membership.review_id or not job_requeue(Import, pk=imp.pk):
        raise ServiceError("Only a failed import can be run again.")
    Import.objects.filter(pk=imp.pk).update(**NOTHING_IMPORTED, progress_total=None)
    imp.refresh_from_db()
    return imp


def import_run(*, import_id: int, progress: Callable[[int], None] | None = None) -> Import:
    """Parse the import's file and add its records to the review, linking duplicates.

    A file that cannot be read at all imports nothing and says why in the Import's error. The
    records and the final counts are written in one transaction, so a worker killed mid-import
    leaves no rows behind and the attempt that takes the job back starts from the beginning.
    """
    claim = job_claim(Import, import_id)
    if claim is None:
        # Finished, running in a live worker, or given up: a redelivery has nothing to do.
        return Import.objects.get(pk=import_id)
    imp = Import.objects.select_related("review").get(pk=import_id)
    try:
        with claim.heartbeat(), imp.file.open("rb") as fileobj:
            if not imp.format:
                imp.format = detect_format(fileobj.read(64 * 1024), imp.file_name)
                fileobj.seek(0)
                Import.objects.filter(pk=imp.pk).update(format=imp.format)
            with transaction.atomic(), _import_batches(imp, fileobj) as batches:
                _records_add(imp=imp, batches=batches, progress=progress, claim=claim)
    except JobLost:
        logger.warning(
            "import %s was taken over by a later attempt; this one wrote nothing", imp.pk
        )
    except FileUnreadable as exc:
        if isinstance(exc, ParserFault):
            # A fault in our parser, not in the file: logged for us (the stored upload reproduces
            # it), without the traceback that would land in the import command's output.
            logger.error("import %s (%s): %s", imp.pk, imp.file_name, exc)
        claim.finish(
            status=JobStatus.FAILED,
            error=f"{imp.file_name} could not be read, so nothing was imported: {exc}",
            finished_at=timezone.now(),
            **NOTHING_IMPORTED,
        )
    except Exception as exc:
        logger.exception("import %s failed", imp.pk)
        Import.objects.filter(pk=imp.pk, claim_token=claim.token).update(
            status=JobStatus.FAILED,
            error=f"The import of {imp.file_name} stopped on an internal error, so nothing "
            f"was imported ({exc.__class__.__name__}). It can be run again.",
            finished_at=timezone.now(),
        )
        raise
    imp.refresh_from_db()
    return imp


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _local_path(fieldfile) -> str | None:
    """The stored upload's path on this machine, or None (storage without local files)."""
    try:
        return fieldfile.path
    except NotImplementedError:
        return None


@contextmanager
def _import_batches(imp: Import, fileobj) -> Iterator[Iterable[list]]:
    """The import's items in batches of BATCH_SIZE, in file order.

    A large file on PostgreSQL is parsed in a second process while this one matches and writes
    (reviewapp.literature.parseproc); its records come prepared. A small file, a PMID/DOI list
    (fetched through Entrez by this process) or a development database read it here.
    """
    path = _local_path(imp.file)
    if (
        path is not None
        and imp.format != ImportFormat.IDLIST
        and connection.vendor == "postgresql"
        and imp.file.size >= PROCESS_MIN_BYTES
    ):
        with batches_in_process(
            path, format=imp.format, filename=imp.file_name, batch_size=BATCH_SIZE
        ) as batches:
            yield batches
        return
    items = parse(
        fileobj,
        format=imp.format,
        filename=imp.file_name,
        fetch=_pubmed_fetch if imp.format == ImportFormat.IDLIST else None,
    )
    yield _batches(items, BATCH_SIZE)


def duplicate_index_for(review: Review) -> matching.DuplicateIndex:
    """An index of the review's records so far, with the duplicate links already known."""
    index = matching.DuplicateIndex()
    primaries = dict(
        DuplicateLink.objects.filter(review=review, undone_at__isnull=True).values_list(
            "duplicate_id", "primary_id"
        )
    )
    # Only the first author is read, and the stored title key is used unless it was cut short:
    # this runs before every import, over every record of the review.
    rows = (
        Record.objects.filter(review=review)
        .order_by("id")
        # Not named first_author: that is a property of Record.
        .annotate(lead_author=KT("authors__0"))
        .values_list("id", "pmid", "doi", "title", "year", "lead_author", "title_key", "number")
        .iterator(chunk_size=5000)
    )
    last = 0
    for rid, pmid, doi, title, year, first_author, key, number in rows:
        first = surname_of(first_author) if first_author else ""
        key = key if len(key) < TITLE_KEY_LENGTH else ""
        index.add(
            matching.MatchRecord(rid, pmid, doi, title, year, first, key),
            primary_id=primaries.get(rid),
        )
        last = max(last, number)
    # Read in the same pass, under the review's lock: the numbers the import hands out follow.
    index.last_number = last
    return index


def duplicate_index_candidates(review: Review) -> matching.DuplicateIndex:
    """An empty index that `duplicate_candidates_add` fills, batch by batch, with only the
    records that new ones could match; numbers follow the review's highest.

    For a living review's scheduled update: reading every record (duplicate_index_for) would
    make each update cost as much as the review. The candidates are the records with the same
    PMID, DOI or title key (the exact tiers, each an indexed lookup); a title that differs in
    more than its normalised key (the fuzzy tier) is not looked for, and is left to the
    duplicates page, where a reviewer can mark it.
    """
    index = matching.DuplicateIndex()
    index.last_number = (
        Record.objects.filter(review=review).aggregate(top=Max("number"))["top"] or 0
    )
    return index


def duplicate_candidates_add(
    index: matching.DuplicateIndex, review: Review, items: Iterable
) -> int:
    """File in `index` the review's records that share a PMID, DOI or title key with `items`
    (parsed records; rejections are skipped); returns how many were added."""
    pmids, dois, keys = set(), set(), set()
    for item in items:
        if not isinstance(item, ParsedRecord):
            continue
        if item.pmid:
            pmids.add(item.pmid)
        if item.doi:
            dois.update({item.doi, item.doi.lower()})
        key = matching.title_key(item.title)[:TITLE_KEY_LENGTH]
        if key:
            keys.add(key)
    if not (pmids or dois or keys):
        return 0

    rows = list(
        Record.objects.filter(
            Q(pmid__in=pmids) | Q(doi__in=dois) | Q(title_key__in=keys), review=review
        )
        .order_by("id")
        .annotate(lead_author=KT("authors__0"))
        .values_list("id", "pmid", "doi", "title", "year", "lead_author", "title_key")
    )
    rows = [row for row in rows if row[0] not in index]
    primaries = dict(
        DuplicateLink.objects.filter(
            review=review, undone_at__isnull=True, duplicate_id__in=[row[0] for row in rows]
        ).values_list("duplicate_id", "primary_id")
    )
    for rid, pmid, doi, title, year, first_author, key in rows:
        first = surname_of(first_author) if first_author else ""
        key = key if len(key) < TITLE_KEY_LENGTH else ""
        index.add(
            matching.MatchRecord(rid, pmid, doi, title, year, first, key),
            primary_id=primaries.get(rid),
        )
    return len(rows)


def _record_from(
    parsed: ParsedRecord, *, review: Review, title_key: str | None = None, **source
) -> Record:
    if title_key is None:
        title_key = matching.title_key(parsed.title)[:TITLE_KEY_LENGTH]
    return Record(
        review=review,
        source_position=parsed.position,
        pmid=parsed.pmid,
        doi=parsed.doi,
        pmcid=parsed.pmcid,
        title=parsed.title,
        title_key=title_key,
        abstract=parsed.abstract,
        abstract_sections=[{"label": s.label, "text": s.text} for s in parsed.abstract_sections],
        authors=parsed.authors,
        journal=parsed.journal[:500],
        year=parsed.year,
        volume=parsed.volume[:50],
        issue=parsed.issue[:50],
        pages=parsed.pages[:100],
        keywords=parsed.keywords,
        mesh_terms=parsed.mesh_terms,
        publication_types=parsed.publication_types,
        language=parsed.language[:50],
        raw=parsed.raw if isinstance(parsed.raw, dict) else {"source": parsed.raw},
        **source,
    )


def records_add_parsed(
    *,
    review: Review,
    parsed: Sequence[ParsedRecord | PreparedRecord],
    index: matching.DuplicateIndex,
    writer: BulkWriter | None = None,
    search: Search | None = None,
    source_import: Import | None = None,
) -> tuple[list[int], list[DuplicateLink]]:
    """Insert one batch of parsed records, with their title/abstract screening rows, and link
    those that duplicate earlier ones. Returns the new records' ids (ascending) and the links.

    With a `writer` (see `reviewapp.literature.bulk`) the rows may still be on their way to the
    database when this returns; the writer's block ends when they are all written, and the
    caller then adds them to the kept counts (`records_counted`).
    """
    if writer is None:
        with BulkWriter() as own:
            added = records_add_parsed(
                review=review,
                parsed=parsed,
                index=index,
                writer=own,
                search=search,
                source_import=source_import,
            )
        records_counted(review=review, n=len(added[0]), search=search, source_import=source_import)
        return added
    if not parsed:
        return [], []
    # The per-record text work (row text, match keys): done already when the records come
    # from a parser process (reviewapp.literature.parseproc).
    prepared = [p if isinstance(p, PreparedRecord) else prepare_record(p) for p in parsed]
    if index.last_number is None:
        # An index not built by duplicate_index_for: ask once, then count on from it.
        top = Record.objects.filter(review=review).aggregate(top=Max("number"))["top"]
        index.last_number = top or 0
    first_number = index.last_number + 1
    index.last_number += len(parsed)
    if writer.copy:
        ids = _records_copy(review, prepared, writer, search, source_import, first_number)
    else:
        ids = _records_create(
            review,
            parsed,
            [p.match.title_key[:TITLE_KEY_LENGTH] for p in prepared],
            writer,
            search,
            source_import,
            first_number,
        )
    links = []
    for record_id, p in zip(ids, prepared, strict=True):
        found = index.check(p.match._replace(id=record_id))
        if found is not None:
            links.append(
                DuplicateLink(
                    review=review,
                    duplicate_id=found.duplicate_id,
                    primary_id=found.primary_id,
                    rule=found.rule,
                    score=min(1.0, found.score / 100),
                    status=(
                        DuplicateStatus.AUTOMATIC
                        if found.rule in AUTOMATIC_RULES
                        else DuplicateStatus.NEEDS_REVIEW
                    ),
                )
            )
    writer.save_new(DuplicateLink, links)
    return ids, links


def _records_copy(review, prepared, writer, search, source_import, first_number) -> list[int]:
    """PostgreSQL: the records and their screening rows as COPY text, made without models."""
    ids = writer.reserve_ids(Record, len(prepared))
    now = timezone.now().isoformat()
    prefix = copyrows.record_prefix(
        review_id=review.pk,
        search_id=search.pk if search else None,
        import_id=source_import.pk if source_import else None,
    )
    row = copyrows.record_row
    lines = [
        row(record_id=rid, number=number, prefix=prefix, content=p.content, created_at=now)
        for number, (rid, p) in enumerate(zip(ids, prepared, strict=True), first_number)
    ]
    lines.append("")
    writer.send(writer.copy_statement(Record, copyrows.RECORD_COLUMNS), "\n".join(lines).encode())
    # Each record's title/abstract screening row, in the same transaction: the first reviewer
    # after a large import must not wait while their request builds them.
    state = f"\t{Stage.TITLE_ABSTRACT}\t{ScreenState.UNSCREENED}\t0\t"
    rows = [f"{review.pk}\t{rid}{state}{queue_key(rid)}\t{now}" for rid in ids]
    rows.append("")
    writer.send(
        writer.copy_statement(RecordStageState, copyrows.STATE_COLUMNS), "\n".join(rows).encode()
    )
    return ids


def _records_create(review, parsed, keys, writer, search, source_import, first_number) -> list[int]:
    """Other databases (SQLite in development): the same rows through the ORM."""
    if not all(isinstance(p, ParsedRecord) for p in parsed):
        raise TypeError("prepared records are written with COPY (PostgreSQL) only")
    records = [
        _record_from(
            p,
            review=review,
            title_key=key,
            number=number,
            search=search,
            source_import=source_import,
        )
        for number, (p, key) in enumerate(zip(parsed, keys, strict=True), first_number)
    ]
    writer.save_new(Record, records)
    writer.save_new(
        RecordStageState,
        [
            RecordStageState(
                review=review,
                record_id=record.pk,
                stage=Stage.TITLE_ABSTRACT,
                queue_key=queue_key(record.pk),
            )
            for record in records
        ],
    )
    return [record.pk for record in records]


def records_added_finish(*, review: Review, top: int, added: int) -> None:
    """End an addition of `added` records whose rows `records_add_parsed` wrote (its transaction).

    Takes away the trigger's notes of the new records, whose rows are written already
    (reviewapp.screening.state), and after a bulk addition has the written tables analysed once the transaction commits
    (reviewapp.core.db); a few records more change no plan.
    """
    if top:
        state_rows_added(review)
    if added >= ANALYZE_AFTER_ROWS:
        tables_analyze(Record, DuplicateLink, RecordStageState)


def records_counted(*, review: Review, n: int, search=None, source_import=None) -> None:
    """Add n new records of a search or an import to the review's kept counts (core.tally),
    in the transaction that stored them."""
    key = (
        source_key(search_id=search.pk)
        if search is not None
        else source_key(import_id=source_import.pk)
    )
    tally_add(review.pk, {key: n})


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Run the block without Python's cyclic garbage collector.

    An import makes millions of short-lived objects (elements, parsed records, COPY lines) and
    keeps a growing duplicate index; the collector's passes over them found no cycles to free,
    and cost several percent of the import. Reference counting still frees everything at once.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _records_add(*, imp: Import, batches: Iterable[list], progress, claim: JobClaim) -> dict:
    review_records_lock(imp.review_id)
    index = duplicate_index_for(imp.review)
    read = imported = duplicates = rejected_before = top = 0
    rejections: list[dict] = []
    warnings: list[dict] = []
    count_warnings = 0
    # The writer sends one batch to the database while the parser reads the next.
    with _collector_paused(), BulkWriter() as writer:
        for batch in batches:
            parsed = [item for item in batch if isinstance(item, ParsedRecord | PreparedRecord)]
            if len(parsed) != len(batch):
                for item in batch:
                    if isinstance(item, Rejection):
                        rejections.append(
                            {
                                "position": item.position,
                                "line": item.line,
                                "field": item.field,
                                "reason": item.reason,
                            }
                        )
                    elif isinstance(item, ParseWarning):
                        count_warnings += 1
                        if len(warnings) < WARNINGS_KEPT:
                            warnings.append(
                                {
                                    "position": item.position,
                                    "line": item.line,
                                    "reason": item.reason,
                                }
                            )
            read += len(parsed) + len(rejections) - rejected_before
            rejected_before = len(rejections)
            ids, links = records_add_parsed(
                review=imp.review, parsed=parsed, index=index, writer=writer, source_import=imp
            )
            imported += len(ids)
            duplicates += len(links)
            if ids:
                top = max(top, ids[-1])
            progress_write("import", imp.pk, done=read)
            claim.step()
            if progress:
                # The callback may query the database, which must wait for the COPY under way.
                with writer.paused():
                    progress(read)
    records_counted(review=imp.review, n=imported, source_import=imp)
    records_added_finish(review=imp.review, top=top, added=imported)
    counts = {
        "count_read": read,
        "count_imported": imported,
        "count_duplicates": duplicates,
        "count_rejected": len(rejections),
        "count_warnings": count_warnings,
    }
    claim.finish(
        **counts,
        rejections=rejections,
        warnings=warnings,
        status=JobStatus.DONE,
        finished_at=timezone.now(),
        progress_done=read,
        progress_total=read,
    )
    return counts
