"""Values for the URL parameters of review-scoped pages, used by tests/core/test_access.py.

A page whose route has a new parameter (e.g. <int:conflict_id>) adds one entry here: a function
taking the review and its owner and returning a value that makes the page exist. The access test
then checks it for outsiders and anonymous users automatically.
"""

from reviewapp.reviews.models import Membership
from tests.factories import RecordFactory


def _record_id(review, owner):
    return RecordFactory(review=review).pk


def _member_id(review, owner):
    return Membership.objects.get(review=review, user=owner).pk


URL_KWARGS = {
    "slug": lambda review, owner: review.slug,
    "record_id": _record_id,
    "member_id": _member_id,
    "stage": lambda review, owner: "ta",
}


def _search_id(review, owner):
    from reviewapp.literature.models import Search

    return Search.objects.create(review=review, query="natalizumab", status="done").pk


def _import_id(review, owner):
    from tests.factories import ImportFactory

    return ImportFactory(review=review, status="done").pk


def _link_id(review, owner):
    from reviewapp.literature.models import DuplicateLink

    a, b = RecordFactory(review=review), RecordFactory(review=review)
    return DuplicateLink.objects.create(review=review, duplicate=b, primary=a, rule="doi").pk


URL_KWARGS.update(search_id=_search_id, import_id=_import_id, link_id=_link_id)
URL_KWARGS.update(fmt=lambda review, owner: "json", box=lambda review, owner: "records_screened")


# Extraction and downloads (issue 6): a form with one version, a study included at full text,
# and a finished export of the owner's.
def _form_id(review, owner):
    from reviewapp.extraction.models import ExtractionForm, FormVersion

    form = ExtractionForm.objects.create(
        review=review, name=f"Form {ExtractionForm.objects.count()}"
    )
    FormVersion.objects.create(form=form, number=1, definition={"sections": []})
    return form.pk


def _study_id(review, owner):
    from tests.extraction.helpers import study_included

    return study_included(review, owner).pk


def _export_id(review, owner):
    from django.core.files.base import ContentFile

    from reviewapp.extraction.models import ExportJob

    job = ExportJob.objects.create(
        review=review, requested_by=owner, kind="decisions-long", status="done", rows_written=0
    )
    job.file.save("decisions.csv", ContentFile(b"decision_id\r\n"))
    return job.pk


URL_KWARGS.update({"form_id": _form_id, "study_id": _study_id, "export_id": _export_id})


def _report_id(review, owner):
    """A report with an uploaded PDF, so its members-only file page exists."""
    from django.core.files.base import ContentFile

    from reviewapp.screening.models import Report, ReportFile

    report = Report.objects.create(review=review, record=RecordFactory(review=review))
    version = ReportFile(report=report, original_filename="paper.pdf", size=15, uploaded_by=owner)
    version.file.save("paper.pdf", ContentFile(b"%PDF-1.4\n%test\n"), save=True)
    report.file.name = version.file.name
    report.save()
    return report.pk


def _file_id(review, owner):
    """An uploaded file of the report made for report_id (which comes first in the route)."""
    from reviewapp.screening.models import ReportFile

    return ReportFile.objects.filter(report__review=review).latest("id").pk


def _annotation_id(review, owner):
    """An annotation of the file made for file_id (which comes before it in the route)."""
    from reviewapp.screening.models import Annotation, ReportFile

    version = ReportFile.objects.filter(report__review=review).latest("id")
    return Annotation.objects.create(
        review=review,
        report_file=version,
        author=owner,
        page=1,
        quote="A passage",
        rects=[[0.1, 0.1, 0.5, 0.02]],
        comment="A comment",
    ).pk


URL_KWARGS.update(report_id=_report_id, file_id=_file_id, annotation_id=_annotation_id)


def _analysis_id(review, owner):
    """An analysis with a stored result (two BCG trials), so its pages and downloads exist."""
    from reviewapp.synthesis.models import Analysis, AnalysisResult

    analysis = Analysis.objects.create(
        review=review, name=f"Analysis {Analysis.objects.count()}", outcome="TB", measure="RR"
    )
    rows = [
        {"study": "Aronson 1948", "ai": "4", "bi": "119", "ci": "11", "di": "128"},
        {"study": "Ferguson 1949", "ai": "6", "bi": "300", "ci": "29", "di": "274"},
    ]
    from reviewapp.synthesis.services import compute

    _effects, pooled = compute(rows, analysis, ratio=False)
    AnalysisResult.objects.create(
        analysis=analysis,
        inputs={"rows": rows, "ratio": False},
        inputs_digest="-",
        results={"pooled": pooled.to_dict()},
    )
    return analysis.pk


URL_KWARGS.update(
    analysis_id=_analysis_id,
    what=lambda review, owner: "result.json",
    name=lambda review, owner: "forest.svg",
    # An analysis added to a pooled outcome (issue 17 point 3): what to add, and which to remove.
    kind=lambda review, owner: "sensitivity",
    addition_id=lambda review, owner: 1,
)


def _rob_form_id(review, owner):
    """A RoB 2 form (risk of bias, issue 17): its figures exist with or without judgements."""
    from reviewapp.extraction.models import ExtractionForm
    from reviewapp.riskofbias.services import rob_form_create
    from tests.conftest import membership_of

    n = ExtractionForm.objects.count()
    form = rob_form_create(membership=membership_of(owner, review), tool="rob2", result=f"R{n}")
    return form.pk


URL_KWARGS.update(rob_form_id=_rob_form_id, figure=lambda review, owner: "traffic-light")


# The crawl (tests/core/test_crawl.py) opens each page with every value of these parameters,
# and with the crawl world's real objects for the ids; a parameter it finds nowhere fails it.
def _prisma_formats():
    from reviewapp.reporting.exports import FORMATS

    return list(FORMATS)


CRAWL_CHOICES = {
    "stage": lambda: ["ta", "ft"],
    "figure": lambda: ["traffic-light", "summary"],
    "fmt": _prisma_formats,
    # Every download of an analysis that synthesis.views.analysis_download offers.
    "what": lambda: [
        "forest.svg",
        "forest.png",
        "funnel.svg",
        "funnel.png",
        "result.json",
        "metafor.zip",
    ],
    # Every plot synthesis.views.analysis_plot shows on the analysis page.
    "name": lambda: ["forest.svg", "funnel.svg"],
}


# Accounts and invitations (issue 15).
INVITATION_TOKEN = "crawl-invitation-token"


def _invitation(review, owner):
    """A pending invitation to the review, whose link's token is INVITATION_TOKEN."""
    from datetime import timedelta

    from django.utils import timezone

    from reviewapp.reviews.models import Invitation
    from reviewapp.reviews.services import _token_digest

    invitation, _ = Invitation.objects.get_or_create(
        token_digest=_token_digest(INVITATION_TOKEN),
        defaults={
            "review": review,
            "email": "invited@example.org",
            "role": "reviewer",
            "invited_by": owner,
            "expires_at": timezone.now() + timedelta(days=14),
        },
    )
    return invitation


URL_KWARGS.update(
    invitation_id=lambda review, owner: _invitation(review, owner).pk,
    token=lambda review, owner: _invitation(review, owner) and INVITATION_TOKEN,
)
CRAWL_CHOICES.update(
    # allauth's links from its mails, with keys that are not (or no longer) valid: the pages
    # that say so. Valid ones are followed in tests/accounts.
    key=lambda: ["not-a-key"],
    uidb36=lambda: ["1"],
    # The institution's OpenID Connect provider, configured in tests/accounts/test_oidc.py only.
    provider_id=lambda: ["institution"],
)


def _retrieval_id(review, owner):
    """A finished retrieval run (issue 18) with nothing found."""
    from reviewapp.screening.models import Retrieval

    return Retrieval.objects.create(review=review, requested_by=owner, status="failed").pk


URL_KWARGS.update(retrieval_id=_retrieval_id)


def _batch_id(review, owner):
    """A staged bulk upload (issue 18) with one matched and one refused file."""
    from django.core.files.base import ContentFile

    from reviewapp.screening.models import BulkUpload, BulkUploadFile

    batch = BulkUpload.objects.create(review=review, uploaded_by=owner)
    staged = BulkUploadFile(batch=batch, name="paper.pdf", size=15, evidence="File name")
    staged.file.save("paper.pdf", ContentFile(b"%PDF-1.4\n%test\n"), save=True)
    BulkUploadFile.objects.create(batch=batch, name="notes.txt", refused="it is not a PDF")
    return batch.pk


URL_KWARGS.update(batch_id=_batch_id)


# GRADE (issue 17 point 5): a domain of an analysis's assessment, the summary-of-findings downloads.
URL_KWARGS.update(
    domain=lambda review, owner: "indirectness", sof_format=lambda review, owner: "csv"
)
CRAWL_CHOICES.update(
    domain=lambda: ["risk_of_bias", "indirectness"], sof_format=lambda: ["docx", "csv"]
)
