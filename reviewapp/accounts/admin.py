from django.contrib import admin

from reviewapp.accounts.models import SelfSignup


@admin.register(SelfSignup)
class SelfSignupAdmin(admin.ModelAdmin):
    """Accounts people made for themselves (they verify their address before use)."""

    list_display = ["user", "created_at"]
    search_fields = ["user__username", "user__email"]
    readonly_fields = ["user", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False
