from rest_framework import serializers

from reviewapp.extraction.models import Extraction, ExtractionForm, FormVersion
from reviewapp.literature.models import Record
from reviewapp.literature.selectors import merged_apply
from reviewapp.reviews.models import Review
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import Decision, ExclusionReason
from reviewapp.screening.selectors import derived_states


class ReviewSerializer(serializers.ModelSerializer):
    role = serializers.CharField(read_only=True, help_text="Your role in this review.")

    class Meta:
        model = Review
        fields = [
            "slug",
            "title",
            "question",
            "protocol_registration",
            "inclusion_criteria",
            "exclusion_criteria",
            "is_demo",
            "created_at",
            "role",
        ]


class RecordSerializer(serializers.ModelSerializer):
    duplicate_of = serializers.IntegerField(
        source="primary_id",
        read_only=True,
        allow_null=True,
        help_text="The record this one duplicates.",
    )
    ta_state = serializers.SerializerMethodField(help_text="State at title/abstract screening.")
    ft_state = serializers.SerializerMethodField(help_text="State at full-text screening.")
    study = serializers.CharField(
        source="study_label", read_only=True, allow_null=True, help_text="The study of its report."
    )

    class Meta:
        model = Record
        fields = [
            "id",
            "number",
            "pmid",
            "doi",
            "pmcid",
            "title",
            "authors",
            "journal",
            "year",
            "volume",
            "issue",
            "pages",
            "abstract",
            "keywords",
            "language",
            "duplicate_of",
            "study",
            "ta_state",
            "ft_state",
        ]

    def to_representation(self, instance):
        # The values merged_annotate read with the record (RecordList), as every page shows it.
        return super().to_representation(merged_apply(instance))

    def _states(self, record) -> dict:
        # Derived from the columns the view joins in (``records_with_states``).
        return derived_states(
            is_duplicate=record.primary_id is not None, ta_row=record.ta_row, ft_row=record.ft_row
        )

    def get_ta_state(self, record) -> str | None:
        return self._states(record)[Stage.TITLE_ABSTRACT]

    def get_ft_state(self, record) -> str | None:
        return self._states(record)[Stage.FULL_TEXT]


class DecisionSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    # What the stubs say the constructor gives: with many=True, DRF returns a ManyRelatedField.
    reasons: serializers.RelatedField[ExclusionReason, str, str] | serializers.ManyRelatedField = (
        serializers.SlugRelatedField(many=True, read_only=True, slug_field="label")
    )

    class Meta:
        model = Decision
        fields = [
            "id",
            "record",
            "stage",
            "reviewer",
            "kind",
            "value",
            "reasons",
            "note",
            "created_at",
        ]


class FormVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = FormVersion
        fields = ["number", "definition", "created_at"]


class ExtractionFormSerializer(serializers.ModelSerializer):
    versions = FormVersionSerializer(many=True, read_only=True)

    class Meta:
        model = ExtractionForm
        fields = ["id", "name", "extractors_required", "versions"]


class ExtractionSerializer(serializers.ModelSerializer):
    study_label = serializers.CharField(source="study.label", read_only=True)
    form_version = serializers.IntegerField(source="form_version.number", read_only=True)
    extractor = serializers.CharField(
        source="extractor.username", read_only=True, allow_null=True, default=None
    )
    decided_by = serializers.CharField(
        source="decided_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Extraction
        fields = [
            "id",
            "study",
            "study_label",
            "form",
            "form_version",
            "kind",
            "extractor",
            "decided_by",
            "submitted_at",
            "revision",
            "data",
            "updated_at",
        ]
