from django.contrib import admin

from reviewapp.notifications.models import NotificationPreference


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["membership", "frequency", "last_sent_at"]
    list_filter = ["frequency"]
    list_select_related = ["membership__review", "membership__user"]
    search_fields = ["membership__user__username", "membership__review__title"]
    readonly_fields = ["membership", "last_sent_at", "last_summary"]
