"""The demo review: a worked example a newcomer sees on first run. Labelled as demo data everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from reviewapp.demo.flow import demo_flow_load
from reviewapp.demo.grade import demo_grade
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Import
from reviewapp.literature.services import import_create, import_run
from reviewapp.reviews.constants import Role
from reviewapp.reviews.models import Membership, Review
from reviewapp.reviews.services import review_create

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-reviewapp"
DEMO_USERS = [
    ("demo", Role.OWNER),
    ("demo-reviewer", Role.REVIEWER),
    ("demo-analyst", Role.ANALYST),
]
DEMO_FILE = Path(__file__).with_name("data") / "natalizumab_demo_pubmed.xml"

QUESTION = (
    "In adults with relapsing-remitting multiple sclerosis who stop natalizumab, how often does "
    "disease activity return, and who relapses? (Demo modelled on Prosperini et al. 2019, "
    "Ther Adv Neurol Disord 12:1756286419837809; the records here are illustrative.)"
)
INCLUSION = """Adults with relapsing-remitting multiple sclerosis treated with natalizumab
Natalizumab stopped or interrupted, with or without a switch to another therapy
Relapses or MRI activity reported after the last infusion
Cohort studies, registries or trials"""
EXCLUSION = """Natalizumab for conditions other than MS (e.g. Crohn's disease)
No follow-up after stopping natalizumab
Reviews, editorials, case reports with fewer than 5 patients"""


@dataclass
class DemoResult:
    review: Review
    created: bool
    imported: int


@transaction.atomic
def demo_load() -> DemoResult:
    """Create (or complete) the demo review, its users and its records; safe to run again."""
    User = get_user_model()
    users = {}
    for username, _role in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.org"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        users[username] = user

    review = Review.objects.filter(slug=DEMO_SLUG).first()
    created = review is None
    if review is None:
        review = review_create(
            title="Demo: disease activity after stopping natalizumab in relapsing-remitting MS",
            slug=DEMO_SLUG,
            owner=users["demo"],
            question=QUESTION,
            inclusion_criteria=INCLUSION,
            exclusion_criteria=EXCLUSION,
            is_demo=True,
        )
        review.keywords_include = ["natalizumab", "discontinu*", "interrupt*", "rebound", "washout"]
        review.keywords_exclude = ["Crohn*", "pharmacokinetic*", "cost-effectiveness"]
        review.save(update_fields=["keywords_include", "keywords_exclude"])
    for username, role in DEMO_USERS:
        Membership.objects.get_or_create(
            review=review, user=users[username], defaults={"role": role}
        )

    owner = Membership.objects.get(review=review, user=users["demo"])
    done = Import.objects.filter(
        review=review, file_name=DEMO_FILE.name, status=JobStatus.DONE
    ).first()
    imported = 0
    if done is None:
        with DEMO_FILE.open("rb") as fileobj:
            imp = import_create(
                membership=owner,
                fileobj=fileobj,
                file_name=DEMO_FILE.name,
                format="pubmed-xml",
                source_database="PubMed",
            )
        imp = import_run(import_id=imp.pk)
        imported = imp.count_imported
    second = Membership.objects.get(review=review, user=users["demo-reviewer"])
    demo_flow_load(review, owner, second)
    demo_grade(review, owner)
    return DemoResult(review=review, created=created, imported=imported)
