from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from reviewapp.literature.models import Import, Record
from reviewapp.reviews.models import Membership, Review


def _counts():
    return {
        "users": get_user_model().objects.count(),
        "reviews": Review.objects.count(),
        "memberships": Membership.objects.count(),
        "imports": Import.objects.count(),
        "records": Record.objects.count(),
    }


@pytest.mark.django_db
def test_loaddemo_is_idempotent():
    out = StringIO()
    call_command("loaddemo", "--allow-production", stdout=out)
    first = _counts()
    call_command("loaddemo", "--allow-production", stdout=out)
    assert _counts() == first
    assert first["records"] == 205
    assert "already there" in out.getvalue()


@pytest.mark.django_db
def test_the_demo_review_is_labelled_as_demo_data(client):
    call_command("loaddemo", "--allow-production", stdout=StringIO())
    review = Review.objects.get(slug="demo")
    assert review.is_demo
    client.login(username="demo", password="demo-reviewapp")
    page = client.get(reverse("reviews:review-detail", args=["demo"])).content.decode()
    assert "Demo data" in page
    assert "illustrative" in page


@pytest.mark.django_db
def test_the_demo_records_come_through_the_import_code():
    call_command("loaddemo", "--allow-production", stdout=StringIO())
    imp = Import.objects.get(review__slug="demo")
    assert (imp.status, imp.format, imp.count_imported, imp.count_rejected) == (
        "done",
        "pubmed-xml",
        205,
        0,
    )
    record = Record.objects.filter(review__slug="demo").order_by("id").first()
    assert record.pmid and record.abstract_sections and record.authors


@pytest.mark.django_db
def test_loaddemo_refuses_a_production_site_without_the_flag(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="published password"):
        call_command("loaddemo", stdout=StringIO())
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_createreview_makes_a_review_owned_by_the_named_user(owner):
    call_command(
        "createreview",
        "nat-stop",
        "--title",
        "Stopping natalizumab",
        "--owner",
        "olivia",
        stdout=StringIO(),
    )
    review = Review.objects.get(slug="nat-stop")
    assert review.memberships.get().user == owner


@pytest.mark.django_db
def test_createreview_names_an_unknown_owner():
    with pytest.raises(CommandError, match="No user is called 'nobody'"):
        call_command("createreview", "x", "--title", "X", "--owner", "nobody")
