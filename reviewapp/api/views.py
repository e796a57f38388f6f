"""The read-only JSON API: reviews, records, decisions, PRISMA counts, forms and extracted data.

Session or token authentication (``Authorization: Token <key>``; each user makes or revokes their
own token at /accounts/api-token/, see reviewapp/api/pages.py). GET only. Everything inside a review answers 404
to anyone who is not a member; votes and extraction entries are filtered by the one blinding rule,
``reviewapp.core.blinding`` (through the selectors), as on the pages and in the downloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db.models import OuterRef, Subquery
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from reviewapp.api.pagination import KeysetPagination
from reviewapp.api.permissions import ReviewMember
from reviewapp.api.serializers import (
    DecisionSerializer,
    ExtractionFormSerializer,
    ExtractionSerializer,
    RecordSerializer,
    ReviewSerializer,
)
from reviewapp.core.rows import in_review
from reviewapp.extraction.models import ExtractionForm
from reviewapp.extraction.selectors import decisions_visible, extractions_visible
from reviewapp.literature.models import Record
from reviewapp.literature.selectors import merged_annotate
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import Stage
from reviewapp.screening.selectors import records_with_states

if TYPE_CHECKING:
    # A type alias of the stubs only; it does not exist at run time.
    from rest_framework.permissions import _PermissionClass


class ReadOnly:
    # Annotated as in the base views so this mixin's lists are compatible with theirs.
    http_method_names: Sequence[str] = ["get", "head", "options"]
    permission_classes: Sequence[_PermissionClass] = [IsAuthenticated, ReviewMember]
    # Set by ReviewMember.has_permission on every view whose URL names a review.
    membership: Membership


def _with_role(queryset, user):
    role = Membership.objects.filter(review=OuterRef("pk"), user=user).values("role")[:1]
    return queryset.annotate(role=Subquery(role))


class ReviewList(ReadOnly, generics.ListAPIView):
    """The reviews you are a member of."""

    serializer_class = ReviewSerializer

    def get_queryset(self):
        user = self.request.user
        return _with_role(Review.objects.filter(memberships__user=user), user).order_by("title")


class ReviewDetail(ReadOnly, generics.RetrieveAPIView):
    """One review: its title, question, eligibility criteria and your role in it."""

    serializer_class = ReviewSerializer

    def get_object(self):
        return _with_role(
            Review.objects.filter(pk=self.membership.review_id), self.request.user
        ).get()


STAGE_PARAM = OpenApiParameter(
    "stage", str, enum=Stage.values, description="Only this screening stage."
)


class RecordList(ReadOnly, generics.ListAPIView):
    """Every record of the review (duplicates too, marked), with its state at each stage, in
    record id order, a page at a time: follow ``next`` until it is null."""

    serializer_class = RecordSerializer
    pagination_class = KeysetPagination
    # The review first: its rows are read along the (review, id) index (see KeysetPagination).
    keyset = ("review_id", "id")

    def get_queryset(self):
        # Each page reads only its own records' states, duplicate links and studies (one row
        # each, by unique index): the cost of a page does not grow with the review.
        # A merged cluster's primary with the cluster's merged metadata, read in the same
        # statement (the serializer applies it).
        return merged_annotate(
            records_with_states(Record.objects.filter(in_review(self.membership.review_id)))
        )


@extend_schema(
    parameters=[
        STAGE_PARAM,
        OpenApiParameter("record", int, description="Only decisions on this record."),
    ]
)
class DecisionList(ReadOnly, generics.ListAPIView):
    """Screening decision events, oldest first, as the blinding rule lets you see them: your own
    always; the others' once you have no vote due on that record (whatever your role) and, as a
    reviewer, once you have voted and every vote is in; analysts see every decision. A page at
    a time: follow ``next`` until it is null."""

    serializer_class = DecisionSerializer
    pagination_class = KeysetPagination
    keyset = ("review_id", "created_at", "id")

    def get_queryset(self):
        qs = (
            decisions_visible(self.membership.review, self.membership)
            .select_related("reviewer")
            .prefetch_related("reasons")
        )
        stage = self.request.query_params.get("stage")
        if stage:
            qs = qs.filter(stage=stage)
        record = self.request.query_params.get("record", "")
        if record.isdigit():
            qs = qs.filter(record_id=int(record))
        return qs


class Prisma(ReadOnly, APIView):
    """PRISMA 2020 flow counts, keyed by the PRISMA2020 template's field names.

    While records are still being screened the flow does not add up yet: ``consistent`` is then
    false, ``violations`` says which equations break, ``pending`` counts the records still in
    screening per stage, and ``counts`` is null.
    """

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug: str):
        # Imported here so the API does not load the reporting app at start-up.
        from reviewapp.reporting.prisma import to_json_dict, violations
        from reviewapp.reporting.selectors import prisma_counts_get, prisma_pending
        from reviewapp.screening.counts import review_counts

        review = self.membership.review
        kept = review_counts(review)
        counts = prisma_counts_get(review, counts=kept)
        found = violations(counts)
        return Response(
            {
                "consistent": not found,
                "violations": [str(v) for v in found],
                "pending": prisma_pending(review, kept),
                "counts": None if found else to_json_dict(counts),
            }
        )


class FormList(ReadOnly, generics.ListAPIView):
    """The review's extraction forms, each with every version of its definition."""

    serializer_class = ExtractionFormSerializer

    def get_queryset(self):
        return (
            ExtractionForm.objects.filter(review=self.membership.review)
            .prefetch_related("versions")
            .order_by("name")
        )


@extend_schema(
    parameters=[
        OpenApiParameter("form", int, description="Only this form's extractions."),
        OpenApiParameter("kind", str, enum=["individual", "consensus"]),
    ]
)
class ExtractionList(ReadOnly, generics.ListAPIView):
    """Extracted data, as the blinding rule lets you see it: your own entries and the consensus
    always; nobody sees another extractor's entry of a study where their own is still due;
    otherwise adjudicators and analysts see every entry, reviewers another extractor's once both
    are submitted."""

    serializer_class = ExtractionSerializer

    def get_queryset(self):
        qs = (
            extractions_visible(self.membership)
            .select_related("study", "form_version", "extractor", "decided_by")
            .order_by("study__label", "form_id", "kind", "extractor__username", "id")
        )
        form = self.request.query_params.get("form", "")
        if form.isdigit():
            qs = qs.filter(form_id=int(form))
        kind = self.request.query_params.get("kind")
        if kind:
            qs = qs.filter(kind=kind)
        return qs
