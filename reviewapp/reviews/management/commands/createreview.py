from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from reviewapp.core.errors import ServiceError
from reviewapp.reviews.services import review_create


class Command(BaseCommand):
    help = "Create a review with its owner, screening stages and default exclusion reasons."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Short name used in addresses, e.g. natalizumab-stop")
        parser.add_argument("--title", required=True)
        parser.add_argument("--owner", help="Username of the owner (default: the first superuser)")
        parser.add_argument("--question", default="")

    def handle(self, *args, slug, title, owner, question, **options):
        users = get_user_model().objects
        if owner:
            user = users.filter(username=owner).first()
            if user is None:
                raise CommandError(f"No user is called '{owner}'.")
        else:
            user = users.filter(is_superuser=True).order_by("pk").first()
            if user is None:
                raise CommandError("No --owner given and no superuser exists to own the review.")
        try:
            review = review_create(title=title, slug=slug, owner=user, question=question)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Created review '{review.slug}' owned by {user.username}.")
