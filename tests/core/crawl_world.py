"""The reviews the crawl test (tests/core/test_crawl.py) walks, built with the app's own services.

Two worlds: the demo review as ``loaddemo`` makes it, and a review in every state a team reaches
(stopped by a stopping rule, rankings, conflicts, uploaded full texts, extraction forms with
submitted, consensus and unsubmitted entries, an analysis, hand-entered PRISMA boxes).

The second review carries blinding markers: unique strings planted where the blinding rule hides
them (a vote's note on a record still waiting for votes, an unsubmitted extraction). Who must not
see each marker is worked out here from the raw rows, by THE RULE, not by asking the app:

    A member who has a vote or an extraction still due never sees the others' until theirs is in,
    whatever their role (owner and admin included); an adjudicator sees everything only on records
    where they have no vote due; analysts (who never vote) see everything; outsiders and anonymous
    see nothing.

A vote is due from a member who may screen (owner, admin, reviewer) on a record at a blinded stage
that still needs votes (fewer than required cast, not settled) and that they have not voted on. An
extraction is due from a member who may extract on a study of a form that still needs entries
(fewer submitted than required) and that they have not submitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Q

from reviewapp.extraction.models import ExportJob, Extraction, ExtractionForm
from reviewapp.extraction.services import (
    consensus_save,
    export_request,
    export_run,
    extraction_form_create,
    extraction_save,
    form_version_save,
)
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.duplicates import duplicate_mark
from reviewapp.literature.models import Record, Search
from reviewapp.reporting.services import prisma_manual_set
from reviewapp.reviews.constants import Role
from reviewapp.reviews.models import Membership, Review
from reviewapp.reviews.services import membership_remove
from reviewapp.riskofbias.services import rob_form_create
from reviewapp.screening.annotations import annotation_create
from reviewapp.screening.constants import DecisionKind, RetrievalStatus, Stage
from reviewapp.screening.fulltext import report_status_set, report_upload
from reviewapp.screening.models import Decision, ExclusionReason, Report, StageSettings
from reviewapp.screening.ranking_service import ranking_request, ranking_train
from reviewapp.screening.services import conflict_resolve, decision_record, note_add
from reviewapp.screening.stopping import screening_stop, stopping_rule_declare
from reviewapp.synthesis.selectors import outcome_choices
from reviewapp.synthesis.services import analysis_create, analysis_run
from tests.factories import ImportFactory, MembershipFactory, RecordFactory, UserFactory
from tests.url_kwargs import CRAWL_CHOICES

ROLES = ("anonymous", "outsider", "analyst", "reviewer", "admin", "owner")
MAY_SCREEN = {Role.OWNER, Role.ADMIN, Role.REVIEWER}  # and so may extract

ON_TOPIC = "Relapse and rebound after stopping natalizumab in relapsing multiple sclerosis"
OFF_TOPIC = "Pharmacokinetics of an unrelated antibiotic in healthy volunteers"

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

ESTIMATE_FORM = [
    {"section": "Study", "label": "Country", "type": "text", "required": True},
    {"section": "Outcomes", "label": "Relapse", "type": "estimate", "measure": "OR"},
]
DUAL_FORM = [
    {"section": "Study", "label": "Country", "type": "text", "required": True},
    {"section": "Study", "label": "Setting", "type": "long_text"},
]


@dataclass(frozen=True)
class Marker:
    """A planted string and what it is; ``hidden_from`` is filled by THE RULE."""

    text: str
    what: str
    hidden_from: frozenset[str]
    # Pages (URL names) where the text is not the secret but something the role may see: a
    # member's name in the audit log says they were on the team, not how they voted.
    named_on: frozenset[str] = frozenset()


@dataclass
class World:
    review: Review
    users: dict[str, Any]  # role -> user (None for anonymous)
    # URL parameter -> the values the crawl tries (real objects of this review).
    values: dict[str, list] = field(default_factory=dict)
    # URL parameter -> role -> values, for objects only their owner opens (export jobs).
    role_values: dict[str, dict[str, list]] = field(default_factory=dict)
    # Per role, every export job that role asked for, written by the worker-side service.
    exports: dict[str, list[int]] = field(default_factory=dict)
    markers: list[Marker] = field(default_factory=list)
    forms: list[int] = field(default_factory=list)
    htmx: bool = False  # also ask every page as htmx does
    # The rows holding the markers, opened in the admin so each marker is seen somewhere.
    marker_objects: list = field(default_factory=list)


def _member(review, username, role):
    return MembershipFactory(review=review, user=UserFactory(username=username), role=role)


def _ms(review, user) -> Membership:
    return Membership.objects.select_related("review").get(review=review, user=user)


# --- THE RULE, from raw rows ------------------------------------------------------------------


def _vote_due(review, user, record, stage) -> bool:
    membership = Membership.objects.filter(review=review, user=user).first()
    if membership is None or membership.role not in MAY_SCREEN:
        return False
    settings = StageSettings.objects.get(review=review, stage=stage)
    if not settings.blinded:
        return False
    events = Decision.objects.filter(record=record, stage=stage)
    if events.exclude(kind=DecisionKind.VOTE).exists():
        return False  # settled by an adjudication or by automation
    voters = set(events.filter(kind=DecisionKind.VOTE).values_list("reviewer_id", flat=True))
    return len(voters) < settings.reviewers_required and user.pk not in voters


def _extraction_due(review, user, form, study) -> bool:
    membership = Membership.objects.filter(review=review, user=user).first()
    if membership is None or membership.role not in MAY_SCREEN:
        return False
    submitted = set(
        Extraction.objects.filter(
            form=form, study=study, kind="individual", submitted_at__isnull=False
        ).values_list("extractor_id", flat=True)
    )
    return len(submitted) < form.extractors_required and user.pk not in submitted


def _hidden(world: World, due) -> frozenset[str]:
    """The roles that must not see a marker: nobody outside the review, and every member with
    something still due on it (``due(user)``). The author is never crawled, analysts never owe."""
    hidden = {"anonymous", "outsider"}
    for role in ("analyst", "reviewer", "admin", "owner"):
        if due(world.users[role]):
            hidden.add(role)
    return frozenset(hidden)


def vote_marker(
    world: World, *, text: str, what: str, record, stage, named_on=frozenset()
) -> Marker:
    return Marker(
        text,
        what,
        _hidden(world, lambda user: _vote_due(world.review, user, record, stage)),
        frozenset(named_on),
    )


def extraction_marker(world: World, *, text: str, what: str, form, study) -> Marker:
    return Marker(
        text, what, _hidden(world, lambda user: _extraction_due(world.review, user, form, study))
    )


# --- the second review: every state ----------------------------------------------------------


def _estimate_raw(keys, country, estimate, lower, upper):
    return {
        "values": {keys["Country"]: country},
        "outcomes": [
            {
                "group": keys["Relapse"],
                "outcome": "Relapse",
                "time_point": "12 months",
                "estimate": estimate,
                "ci_lower": lower,
                "ci_upper": upper,
            }
        ],
    }


def _keys(form):
    version = form.versions.order_by("-number").first()
    return {i["label"]: i["key"] for s in version.definition["sections"] for i in s["items"]}


def every_state_world(outsider) -> World:
    owner = UserFactory(username="crawl-owner")
    from reviewapp.reviews.services import review_create

    review = review_create(title="Crawl: every state", slug="crawl-every-state", owner=owner)
    users = {
        "anonymous": None,
        "outsider": outsider,
        "owner": owner,
        "admin": _member(review, "crawl-admin", Role.ADMIN).user,
        "reviewer": _member(review, "crawl-reviewer", Role.REVIEWER).user,
        "analyst": _member(review, "crawl-analyst", Role.ANALYST).user,
    }
    # Two more reviewers: the authors of the planted votes and entries (never crawled).
    rita = _member(review, "crawl-rita", Role.REVIEWER)
    rhea = _member(review, "crawl-rhea", Role.REVIEWER)
    owner_ms = _ms(review, owner)
    world = World(review=review, users=users)

    # Title/abstract: single screening of 50 of 60 records, 5 included first, then stopped by a
    # declared rule (tests/screening/test_stopping_app.py gives the arithmetic), with a ranking.
    StageSettings.objects.filter(review=review).update(reviewers_required=1)
    imp = ImportFactory(review=review, status=JobStatus.DONE)
    on = [RecordFactory(review=review, source_import=imp, title=ON_TOPIC) for _ in range(5)]
    off = [RecordFactory(review=review, source_import=imp, title=OFF_TOPIC) for _ in range(55)]
    for i, record in enumerate(on + off[:45]):
        decision_record(
            membership=rita,
            record=record,
            stage=Stage.TITLE_ABSTRACT,
            value="include" if i < 5 else "exclude",
        )
    ranking = ranking_request(review=review, stage=Stage.TITLE_ABSTRACT)
    ranking_train(ranking_id=ranking.pk)
    stopping_rule_declare(membership=owner_ms, stage="ta", target_recall=0.8, confidence=0.9)
    screening_stop(membership=owner_ms, stage="ta")

    # Full texts: four PDFs uploaded, three included, one excluded with a reason, one not found.
    reason = ExclusionReason.objects.filter(review=review, active=True).order_by("position")[0]
    for record in on[:4]:
        report_upload(
            membership=owner_ms,
            record=record,
            upload=SimpleUploadedFile("paper.pdf", PDF, content_type="application/pdf"),
        )
    for record in on[:3]:
        decision_record(membership=owner_ms, record=record, stage=Stage.FULL_TEXT, value="include")
    decision_record(
        membership=owner_ms,
        record=on[3],
        stage=Stage.FULL_TEXT,
        value="exclude",
        reason_ids=[reason.pk],
    )
    report_status_set(membership=owner_ms, record=on[4], status=RetrievalStatus.NOT_RETRIEVED)
    studies = [Report.objects.get(record=r).study for r in on[:3]]

    # Extraction: a single-extractor form with submitted estimates, pooled in an analysis...
    single = extraction_form_create(membership=owner_ms, name="Characteristics")
    form_version_save(membership=owner_ms, form=single, items=ESTIMATE_FORM)
    keys = _keys(single)
    estimates = [("2.10", "1.30", "3.40"), ("1.60", "1.10", "2.33"), ("2.90", "1.40", "6.01")]
    for study, numbers in zip(studies, estimates, strict=True):
        extraction_save(
            membership=owner_ms,
            form=single,
            study=study,
            raw=_estimate_raw(keys, "Italy", *numbers),
            expected_revision=0,
            submit=True,
        )
    choice = next(c for c in outcome_choices(review) if c.form_id == single.pk)
    analysis = analysis_create(
        membership=owner_ms,
        name="Relapse after stopping",
        outcome_key=choice.value,
        measure="GEN",
        model="random",
        method="DL",
        ratio=True,
    )
    analysis_run(membership=owner_ms, analysis=analysis)

    # ... and a dual form: one study with an unsubmitted entry (a marker), one compared by two
    # extractors, one settled by a consensus.
    dual = extraction_form_create(membership=owner_ms, name="Outcomes", extractors_required=2)
    form_version_save(membership=owner_ms, form=dual, items=DUAL_FORM)
    dkeys = _keys(dual)
    draft_text = "CRAWLMARKERDRAFT7Q"
    draft = extraction_save(
        membership=rita,
        form=dual,
        study=studies[0],
        raw={"values": {dkeys["Country"]: draft_text, dkeys["Setting"]: draft_text + "S"}},
        expected_revision=0,
    )
    # ... and rita marked in the study's PDF the passage her unsubmitted Country came from (a
    # marker too: an annotation is blinded as its author's entry is).
    annotation_text = "CRAWLMARKERANNOT6W"
    first_pdf = Report.objects.get(record=on[0]).files.first()
    annotation = annotation_create(
        membership=rita,
        report_file=first_pdf,
        page=1,
        quote=annotation_text,
        rects=[[0.1, 0.1, 0.5, 0.02]],
        comment=annotation_text + "C",
        form=dual,
        field_key=dkeys["Country"],
    )
    for study in studies[1:]:
        for who, country in ((rita, "Italy"), (rhea, "Spain")):
            extraction_save(
                membership=who,
                form=dual,
                study=study,
                raw={"values": {dkeys["Country"]: country}},
                expected_revision=0,
                submit=True,
            )
    consensus_save(
        membership=owner_ms,
        form=dual,
        study=studies[2],
        raw={"values": {dkeys["Country"]: "Italy"}},
        expected_revision=0,
    )

    # A RoB 2 form (issue 17) assessed by two: one assessment still a draft (its support text is
    # the marker), so the judgements download and the figures must not show it to the other.
    rob = rob_form_create(membership=owner_ms, tool="rob2", result="Relapse")
    rob_text = "CRAWLMARKERROB4T"
    rob_draft = extraction_save(
        membership=rita,
        form=rob,
        study=studies[0],
        raw={"values": {"d1_1_2": "No", "d1_support": rob_text}},
        expected_revision=0,
    )

    # Blinded dual screening from here on (settings changed mid-review, as teams do), on new
    # records: one waiting for its second vote (the marker), one in conflict, one resolved.
    StageSettings.objects.filter(review=review, stage="ta").update(
        reviewers_required=2, blinded=True
    )
    waiting, conflict, resolved = (
        RecordFactory(review=review, source_import=imp, title=ON_TOPIC) for _ in range(3)
    )
    vote_text, note_text = "CRAWLMARKERVOTE3K", "CRAWLMARKERNOTE5M"
    vote, _ = decision_record(
        membership=rita, record=waiting, stage="ta", value="include", note=vote_text
    )
    note = note_add(membership=rita, record=waiting, text=note_text)
    # A vote with no note, whose value alone must stay hidden: its author has since left the
    # team, so their name shows nowhere but beside their votes and is the marker.
    waiting_too = RecordFactory(review=review, source_import=imp, title=ON_TOPIC)
    leaver_name = "crawlmarkervoterq8"
    leaver = _member(review, leaver_name, Role.REVIEWER)
    leaver_user = leaver.user
    decision_record(membership=leaver, record=waiting_too, stage="ta", value="exclude")
    membership_remove(membership=leaver, actor=owner_ms)
    for record in (conflict, resolved):
        decision_record(membership=rita, record=record, stage="ta", value="include")
        decision_record(
            membership=rhea, record=record, stage="ta", value="exclude", note="Wrong population"
        )
    conflict_resolve(membership=owner_ms, record=resolved, stage="ta", value="include")

    # Duplicates, a search, hand-entered PRISMA boxes.
    first, second = RecordFactory.create_batch(2, review=review, source_import=imp)
    link = duplicate_mark(membership=owner_ms, duplicate_id=second.pk, primary_id=first.pk)
    search = Search.objects.create(review=review, query="natalizumab", status="done")
    prisma_manual_set(
        membership=owner_ms, values={"previous_studies": 4, "previous_reports": 5}, note="v1"
    )

    world.markers = [
        vote_marker(
            world, text=vote_text, what="vote note, waiting record", record=waiting, stage="ta"
        ),
        vote_marker(
            world, text=note_text, what="record note, waiting record", record=waiting, stage="ta"
        ),
        vote_marker(
            world,
            text=leaver_name,
            what="vote without a note (its author's name), waiting record",
            record=waiting_too,
            stage="ta",
            # The owner removed them from the team: the log of team changes names them.
            named_on={"audit:event-list", "audit:event-download"},
        ),
        extraction_marker(
            world, text=draft_text, what="unsubmitted extraction", form=dual, study=studies[0]
        ),
        extraction_marker(
            world, text=rob_text, what="unsubmitted RoB 2 assessment", form=rob, study=studies[0]
        ),
        extraction_marker(
            world,
            text=annotation_text,
            what="annotation linked to an unsubmitted extraction",
            form=dual,
            study=studies[0],
        ),
    ]
    world.forms = [single.pk, dual.pk]
    world.marker_objects = [vote, note, draft, rob_draft, leaver_user]
    # Plots and diagrams are drawn alike for every role (matplotlib takes a while): the owner
    # asks for every format, the others for the text ones, which also carry what may leak.
    world.role_values["what"] = {
        "owner": CRAWL_CHOICES["what"](),
        "other": ["result.json", "metafor.zip"],
    }
    world.role_values["fmt"] = {"owner": CRAWL_CHOICES["fmt"](), "other": ["csv", "json"]}
    world.values = {
        "slug": [review.slug],
        "record_id": [waiting.pk, conflict.pk, on[0].pk],
        "member_id": [_ms(review, users["reviewer"]).pk],
        "search_id": [search.pk],
        "import_id": [imp.pk],
        "link_id": [link.pk],
        "form_id": [single.pk, dual.pk],
        "study_id": [studies[0].pk, studies[2].pk],
        "report_id": [Report.objects.get(record=on[0]).pk],
        "file_id": [first_pdf.pk],
        "annotation_id": [annotation.pk],
        "analysis_id": [analysis.pk],
        "rob_form_id": [rob.pk],
        "box": ["records_screened", "previous_studies"],
    }
    world.exports = background_exports(world)
    # The crawl opens each member's decisions files and every-version extraction file (the
    # ones with something to hide); the test reads all the files directly.
    world.role_values["export_id"] = {
        role: list(
            ExportJob.objects.filter(pk__in=jobs)
            .filter(
                Q(kind__in=["decisions-long", "records-wide"])
                | Q(kind="extraction-csv", which="all", form=dual)
            )
            .values_list("pk", flat=True)
        )
        for role, jobs in world.exports.items()
    }
    return world


def background_exports(world: World) -> dict[str, list[int]]:
    """Every download each member may ask for, written as the worker writes it (export_run)."""
    jobs: dict[str, list[int]] = {}
    for role in ("analyst", "reviewer", "admin", "owner"):
        membership = _ms(world.review, world.users[role])
        jobs[role] = []
        for kind, form_id, which in download_choices(world):
            form = ExtractionForm.objects.get(pk=form_id) if form_id else None
            job = export_request(membership=membership, kind=kind, form=form, which=which)
            job = export_run(export_id=job.pk)
            jobs[role].append(job.pk)
    return jobs


def download_choices(world: World) -> list[tuple[str, int | None, str]]:
    from reviewapp.extraction.constants import EXTRACTION_EXPORTS, ExportKind, ExportWhich

    choices: list[tuple[str, int | None, str]] = []
    for kind in ExportKind.values:
        if kind in EXTRACTION_EXPORTS:
            # The last form is the one with the unsubmitted entry.
            for form_id in world.forms[-1:]:
                for which in ExportWhich.values:
                    choices.append((kind, form_id, which))
        else:
            choices.append((kind, None, "final"))
    return choices


# --- the demo review --------------------------------------------------------------------------


def demo_world(outsider) -> World:
    from reviewapp.demo.services import demo_load

    review = demo_load().review
    members = {m.role: m.user for m in review.memberships.select_related("user")}
    users = {
        "anonymous": None,
        "outsider": outsider,
        "owner": members[Role.OWNER],
        "reviewer": members[Role.REVIEWER],
        "analyst": members[Role.ANALYST],
        # The demo has no admin; one joins so the crawl sees the demo as an admin too.
        "admin": _member(review, "crawl-demo-admin", Role.ADMIN).user,
    }
    world = World(review=review, users=users)
    records = Record.objects.filter(review=review).order_by("id")
    included = Report.objects.filter(review=review, study__isnull=False).order_by("id").first()
    form = ExtractionForm.objects.filter(review=review, tool="").first()
    rob = ExtractionForm.objects.get(review=review, tool="rob2")
    world.forms = [form.pk]
    study_id = Extraction.objects.filter(form=form).values_list("study_id", flat=True).first()
    from reviewapp.synthesis.models import Analysis

    world.values = {
        "slug": [review.slug],
        "record_id": [records.first().pk, included.record_id],
        "member_id": [_ms(review, users["reviewer"]).pk],
        "import_id": [review.imports.first().pk],
        "form_id": [form.pk, rob.pk],
        "rob_form_id": [rob.pk],
        "study_id": [study_id],
        "analysis_id": [Analysis.objects.filter(review=review).first().pk],
        "box": ["records_screened", "previous_studies"],
    }
    return world
