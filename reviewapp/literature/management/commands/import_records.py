import json as jsonlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reviewapp.core.errors import ServiceError
from reviewapp.literature.constants import ImportFormat, JobStatus, SourceKind
from reviewapp.literature.management.commands._review_owner import owner_membership
from reviewapp.literature.services import import_create, import_run


class Command(BaseCommand):
    help = "Import a file of records (any format the app reads: see README) into a review."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The review's short name")
        parser.add_argument("file", help="The exported file")
        parser.add_argument("--format", default="auto", choices=["auto", *ImportFormat.values])
        parser.add_argument("--source", default="", help='The database it came from, e.g. "Embase"')
        parser.add_argument("--kind", default=SourceKind.DATABASE, choices=SourceKind.values)
        parser.add_argument("--user", help="Act as this member (default: the review's owner)")
        parser.add_argument("--json", action="store_true", help="Print one JSON object")

    def handle(self, *args, slug, file, format, source, kind, user, json: bool, **options):
        membership = owner_membership(slug, user)
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file} is not a file.")
        try:
            with path.open("rb") as fileobj:
                imp = import_create(
                    membership=membership,
                    fileobj=fileobj,
                    file_name=path.name,
                    format=format,
                    source_database=source,
                    source_kind=kind,
                )
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        except OSError as exc:
            raise CommandError(f"{file} could not be opened: {exc.strerror or exc}") from None

        def progress(read: int) -> None:
            if not json:
                self.stderr.write(f"  {read} records read")

        try:
            imp = import_run(import_id=imp.pk, progress=progress)
        except Exception as exc:
            # import_run has logged the fault and marked the import failed with a message for
            # people; the command says that message and exits non-zero, without a traceback.
            imp.refresh_from_db()
            raise CommandError(
                imp.error or f"The import stopped: {exc.__class__.__name__}"
            ) from None
        result = {
            "import_id": imp.pk,
            "file": imp.file_name,
            "format": imp.format,
            "status": imp.status,
            "read": imp.count_read,
            "imported": imp.count_imported,
            "duplicates": imp.count_duplicates,
            "rejected": imp.count_rejected,
            "rejections": imp.rejections,
            "warnings": imp.warnings,
            "warnings_total": imp.count_warnings,
            "error": imp.error,
        }
        if json:
            self.stdout.write(jsonlib.dumps(result, indent=2))
        else:
            self.stdout.write(
                f"{imp.file_name} ({imp.format or 'unknown format'}): {imp.count_read} read, "
                f"{imp.count_imported} imported, {imp.count_duplicates} duplicates, "
                f"{imp.count_rejected} rejected, {imp.count_warnings} warnings."
            )
            for rejection in imp.rejections:
                where = f"record {rejection['position']}"
                if rejection.get("line"):
                    where += f" (line {rejection['line']})"
                self.stdout.write(f"  rejected {where}: {rejection['reason']}")
            for warning in imp.warnings:
                self.stdout.write(f"  warning: {warning['reason']}")
            if imp.count_warnings > len(imp.warnings):
                self.stdout.write(
                    f"  ... and {imp.count_warnings - len(imp.warnings)} more warnings like these"
                )
        if imp.status != JobStatus.DONE:
            raise CommandError(imp.error)
