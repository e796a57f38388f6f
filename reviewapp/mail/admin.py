from django.contrib import admin, messages

from reviewapp.mail.constants import EmailStatus
from reviewapp.mail.models import OutboundEmail
from reviewapp.mail.services import email_retry


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """The outbox: what was sent, what waits for another attempt and what failed, and why."""

    list_display = ["created_at", "subject", "recipients", "kind", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["subject", "to"]
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]
    actions = ["send_again"]

    @admin.display(description="To")
    def recipients(self, email: OutboundEmail) -> str:
        return ", ".join(email.to)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Send the selected failed messages again")
    def send_again(self, request, queryset):
        failed = list(queryset.filter(status=EmailStatus.FAILED).values_list("pk", flat=True))
        for email_id in failed:
            email_retry(email_id=email_id)
        messages.success(request, f"{len(failed)} failed message(s) queued again.")
