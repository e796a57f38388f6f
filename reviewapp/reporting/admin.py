from django.contrib import admin

from reviewapp.reporting.models import PrismaManualCount


@admin.register(PrismaManualCount)
class PrismaManualCountAdmin(admin.ModelAdmin):
    list_display = ["review", "field", "value", "entered_by", "entered_at"]
