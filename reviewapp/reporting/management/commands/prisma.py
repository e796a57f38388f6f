import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reviewapp.reporting.exports import FORMATS, prisma_export
from reviewapp.reporting.prisma import PrismaInconsistent
from reviewapp.reporting.selectors import prisma_counts_get
from reviewapp.reviews.models import Review


class Command(BaseCommand):
    help = (
        "Export a review's PRISMA 2020 flow: the diagram (svg, png, pdf) or its data (csv, json)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The review's short name")
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument("-o", "--output", help="File to write (default: standard output)")

    def handle(self, *args, slug, format, output, **options):
        review = Review.objects.filter(slug=slug).first()
        if review is None:
            raise CommandError(f"No review has the short name '{slug}'.")
        try:
            data = prisma_export(prisma_counts_get(review), format)
        except PrismaInconsistent as exc:
            raise CommandError(str(exc)) from None
        if output:
            Path(output).write_bytes(data)
            self.stderr.write(f"Wrote {output} ({len(data)} bytes).")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
