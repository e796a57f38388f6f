"""factory_boy factories. Reviews are made through the real service so they have stages and reasons."""

import factory
from django.contrib.auth import get_user_model

from reviewapp.literature.constants import ImportFormat
from reviewapp.literature.models import Import, Record
from reviewapp.reviews.constants import Role
from reviewapp.reviews.models import Membership
from reviewapp.reviews.services import review_create

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password(PASSWORD)


def review_make(*, owner=None, title="Stopping natalizumab", slug=None):
    return review_create(title=title, slug=slug, owner=owner or UserFactory())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Role.REVIEWER


class ImportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Import

    file_name = factory.Sequence(lambda n: f"export{n}.ris")
    format = ImportFormat.RIS
    source_database = "Embase"


class RecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Record

    source_import = factory.SubFactory(ImportFactory, review=factory.SelfAttribute("..review"))
    title = factory.Sequence(lambda n: f"Disease activity after stopping natalizumab, cohort {n}")
    year = 2015
    source_position = factory.Sequence(lambda n: n + 1)
