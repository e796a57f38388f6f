from django.contrib import admin

from reviewapp.reviews.models import Invitation, Membership, Review


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fk_name = "review"
    exclude = ["added_by"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "is_demo", "created_at"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["review", "user", "role", "is_adjudicator"]
    list_filter = ["role"]
    search_fields = ["review__title", "user__username", "user__email"]
    autocomplete_fields = ["review", "user"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made, sent again and withdrawn on a review's team page; here they are read."""

    list_display = ["email", "review", "role", "invited_by", "created_at", "expires_at", "status"]
    list_filter = ["role"]
    search_fields = ["email", "review__title", "review__slug"]
    list_select_related = ["review", "invited_by"]
    exclude = ["token_digest"]
    readonly_fields = [
        "review",
        "email",
        "role",
        "invited_by",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
        "revoked_by",
        "message",
    ]

    def has_add_permission(self, request) -> bool:
        return False
