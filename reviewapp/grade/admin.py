"""Shown, never edited here: the team's judgements change only through the services, which write
the review's audit log (these models have no review of their own for the admin's log to be copied
to)."""

from django.contrib import admin

from reviewapp.core.admin import ReadOnlyAdmin
from reviewapp.grade.models import Assessment, DomainJudgement


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = ("analysis", "design", "baseline_per_1000", "updated_at")
    list_select_related = ("analysis",)


@admin.register(DomainJudgement)
class DomainJudgementAdmin(ReadOnlyAdmin):
    list_display = ("assessment", "domain", "judgement", "proposed", "confirmed_by", "confirmed_at")
    list_filter = ("domain",)
    list_select_related = ("assessment__analysis", "confirmed_by")
