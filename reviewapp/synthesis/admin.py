from django.contrib import admin

from reviewapp.synthesis.models import Analysis, AnalysisResult, AnalysisRun

admin.site.register(Analysis)
admin.site.register(AnalysisResult)


@admin.register(AnalysisRun)
class AnalysisRunAdmin(admin.ModelAdmin):
    list_display = ("analysis", "status", "requested_by", "created_at", "finished_at")
    list_filter = ("status",)
    list_select_related = ("analysis", "requested_by")
    raw_id_fields = ("analysis", "requested_by", "result")
