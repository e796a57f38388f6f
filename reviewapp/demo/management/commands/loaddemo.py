from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reviewapp.demo.services import DEMO_PASSWORD, DEMO_USERS, demo_load


class Command(BaseCommand):
    help = "Create the demo review (slug 'demo') with its users and bundled records. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Load even with DEBUG off (the demo users have a published password).",
        )

    def handle(self, *args, allow_production=False, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                "DJANGO_DEBUG is off: the demo users have a published password, so the demo is "
                "not loaded on a production site. Pass --allow-production to load it anyway."
            )
        result = demo_load()
        state = "created" if result.created else "already there"
        self.stdout.write(
            f"Demo review '{result.review.slug}' {state}; {result.imported} records imported now, "
            f"{result.review.records.count()} in all."
        )
        logins = ", ".join(f"{name} ({role})" for name, role in DEMO_USERS)
        self.stdout.write(f"Demo logins: {logins}; password: {DEMO_PASSWORD}")
