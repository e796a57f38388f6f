import json as jsonlib

from django.core.management.base import BaseCommand, CommandError

from reviewapp.core.errors import ServiceError
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.management.commands._review_owner import owner_membership
from reviewapp.literature.searches import search_create, search_run


class Command(BaseCommand):
    help = "Run a PubMed search for a review and add the records it finds."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The review's short name")
        parser.add_argument("query", help="The PubMed query, quoted")
        parser.add_argument("--mindate", default="", help="YYYY/MM/DD (publication date)")
        parser.add_argument("--maxdate", default="", help="YYYY/MM/DD (publication date)")
        parser.add_argument("--user", help="Act as this member (default: the review's owner)")
        parser.add_argument("--json", action="store_true", help="Print one JSON object")

    def handle(self, *args, slug, query, mindate, maxdate, user, json: bool, **options):
        membership = owner_membership(slug, user)
        try:
            search = search_create(
                membership=membership, query=query, mindate=mindate, maxdate=maxdate
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from None

        def progress(done: int, total: int) -> None:
            self.stderr.write(f"  fetched {done} of {total}")

        search = search_run(search_id=search.pk, progress=progress)
        result = {
            "search_id": search.pk,
            "status": search.status,
            "query": search.query,
            "query_translation": search.query_translation,
            "mindate": search.mindate,
            "maxdate": search.maxdate,
            "count_reported": search.count_reported,
            "count_retrieved": search.count_retrieved,
            "count_new": search.count_new,
            "shortfall": search.shortfall,
            "split_by_date": search.provenance.get("split_by_date", False),
            "error": search.error,
            "error_detail": search.error_detail,
        }
        if json:
            self.stdout.write(jsonlib.dumps(result, indent=2))
        elif search.status == JobStatus.DONE:
            self.stdout.write(
                f"PubMed reported {search.count_reported}; retrieved {search.count_retrieved}, "
                f"{search.count_new} new to the review."
            )
            if search.shortfall:
                self.stdout.write(
                    f"Shortfall: {search.shortfall} records PubMed reported were not retrieved."
                )
        if search.status != JobStatus.DONE:
            # The operator at a terminal wants the technical detail too.
            raise CommandError(f"{search.error}\n{search.error_detail}".strip())
