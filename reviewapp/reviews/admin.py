from django.contrib import admin

from reviewapp.reviews.models import Membership, Review


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
