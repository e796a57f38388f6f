from django.urls import path

from reviewapp.reviews import views

app_name = "reviews"
urlpatterns = [
    path("", views.review_list, name="review-list"),
    path("new/", views.review_create, name="review-create"),
    path("<slug:slug>/", views.review_detail, name="review-detail"),
    path("<slug:slug>/settings/", views.review_settings, name="review-settings"),
    path("<slug:slug>/members/", views.member_list, name="member-list"),
    path("<slug:slug>/members/<int:member_id>/role/", views.member_role, name="member-role"),
    path("<slug:slug>/members/<int:member_id>/remove/", views.member_remove, name="member-remove"),
    path("<slug:slug>/invitations/", views.invitation_create, name="invitation-create"),
    path(
        "<slug:slug>/invitations/<int:invitation_id>/resend/",
        views.invitation_resend,
        name="invitation-resend",
    ),
    path(
        "<slug:slug>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
]
