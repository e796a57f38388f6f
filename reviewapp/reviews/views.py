from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from reviewapp.accounts.adapter import INVITATION_SESSION_KEY
from reviewapp.core.errors import ServiceError, form_error_add
from reviewapp.core.permissions import review_view
from reviewapp.reviews import services
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.forms import (
    InvitationForm,
    InvitationSignupForm,
    MemberAddForm,
    MemberRoleForm,
    ReviewCreateForm,
    ReviewSettingsForm,
)
from reviewapp.reviews.models import Invitation, Membership
from reviewapp.reviews.selectors import review_dashboard, reviews_for_user
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import StageSettings


@login_required
def review_list(request):
    return render(request, "reviews/review_list.html", {"rows": reviews_for_user(request.user)})


@login_required
def review_create(request):
    form = ReviewCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            review = services.review_create(owner=request.user, **form.cleaned_data)
        except ServiceError as exc:
            form_error_add(form, exc)
        else:
            messages.success(request, f"Review “{review.title}” created. You are its owner.")
            return redirect(review)
    return render(request, "reviews/review_create.html", {"form": form})


@review_view()
def review_detail(request, *, review, membership):
    context = {"review": review, "membership": membership, **review_dashboard(review)}
    return render(request, "reviews/review_detail.html", context)


@review_view(Capability.MANAGE_REVIEW)
def review_settings(request, *, review, membership):
    stage_settings = {s.stage: s for s in StageSettings.objects.filter(review=review)}
    initial = {
        "title": review.title,
        "question": review.question,
        "protocol_registration": review.protocol_registration,
        "inclusion_criteria": review.inclusion_criteria,
        "exclusion_criteria": review.exclusion_criteria,
        "keywords_include": "\n".join(review.keywords_include),
        "keywords_exclude": "\n".join(review.keywords_exclude),
    }
    for stage in Stage.values:
        initial[f"{stage}_reviewers_required"] = stage_settings[stage].reviewers_required
        initial[f"{stage}_blinded"] = stage_settings[stage].blinded
    form = ReviewSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        stages = {
            stage: {
                "reviewers_required": data[f"{stage}_reviewers_required"],
                "blinded": data[f"{stage}_blinded"],
            }
            for stage in Stage.values
        }
        try:
            services.review_update(
                review=review,
                actor=membership,
                title=data["title"],
                question=data["question"],
                protocol_registration=data["protocol_registration"],
                inclusion_criteria=data["inclusion_criteria"],
                exclusion_criteria=data["exclusion_criteria"],
                keywords_include=data["keywords_include"],
                keywords_exclude=data["keywords_exclude"],
                stages=stages,
            )
        except ServiceError as exc:
            form_error_add(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("reviews:review-settings", review.slug)
    return render(
        request,
        "reviews/review_settings.html",
        {"review": review, "membership": membership, "form": form},
    )


def _team_page(request, review, membership, *, form=None, invite_form=None, status=200):
    """The team page: members, pending invitations, and the forms to invite and add."""
    members = review.memberships.select_related("user").order_by("user__username")
    can_add = membership.can(Capability.ADD_MEMBERS)
    invitations = []
    if can_add:
        invitations = list(
            Invitation.objects.filter(
                review=review, accepted_at__isnull=True, revoked_at__isnull=True
            )
            .select_related("invited_by", "message")
            .order_by("email")
        )
    return render(
        request,
        "reviews/member_list.html",
        {
            "review": review,
            "membership": membership,
            "members": members,
            "invitations": invitations,
            "form": form or MemberAddForm(),
            "invite_form": invite_form or InvitationForm(),
            "role_form": MemberRoleForm(),
            "can_add": can_add,
            "can_manage": membership.can(Capability.MANAGE_MEMBERS),
        },
        status=status,
    )


def _site_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


@review_view()
def member_list(request, *, review, membership):
    form = MemberAddForm(request.POST or None)
    if request.method == "POST":
        if not membership.can(Capability.ADD_MEMBERS):
            raise PermissionDenied("Only owners and admins can add members.")
        if form.is_valid():
            try:
                added = services.membership_add(
                    review=review,
                    actor=membership,
                    identifier=form.cleaned_data["user"],
                    role=form.cleaned_data["role"],
                )
            except ServiceError as exc:
                form_error_add(form, exc)
            else:
                messages.success(
                    request, f"{added.user.username} added as {added.get_role_display()}."
                )
                return redirect("reviews:member-list", review.slug)
    return _team_page(request, review, membership, form=form)


@review_view(Capability.ADD_MEMBERS)
def invitation_create(request, *, review, membership):
    if request.method != "POST":
        return redirect("reviews:member-list", review.slug)
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                review=review,
                actor=membership,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                site_url=_site_url(request),
            )
        except ServiceError as exc:
            form_error_add(form, exc)
        else:
            messages.success(
                request,
                f"Invitation sent to {invitation.email} as {invitation.get_role_display()}. "
                f"The link works until {invitation.expires_at:%d %b %Y}.",
            )
            return redirect("reviews:member-list", review.slug)
    return _team_page(request, review, membership, invite_form=form, status=400)


@review_view(Capability.ADD_MEMBERS)
@require_POST
def invitation_resend(request, invitation_id: int, *, review, membership):
    invitation = get_object_or_404(Invitation, pk=invitation_id, review=review)
    try:
        services.invitation_resend(
            invitation=invitation, actor=membership, site_url=_site_url(request)
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Invitation sent again to {invitation.email}, with a new link.")
    return redirect("reviews:member-list", review.slug)


@review_view(Capability.ADD_MEMBERS)
@require_POST
def invitation_revoke(request, invitation_id: int, *, review, membership):
    invitation = get_object_or_404(Invitation, pk=invitation_id, review=review)
    try:
        services.invitation_revoke(invitation=invitation, actor=membership)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Invitation to {invitation.email} withdrawn; its link no longer works."
        )
    return redirect("reviews:member-list", review.slug)


def invitation_accept(request, token: str):
    """The page an invitation's link opens: join the review, creating the account if needed."""
    invitation = services.invitation_get(token=token)
    if invitation is None:
        return render(request, "reviews/invitation_accept.html", {"invalid": True}, status=404)
    context: dict = {"invitation": invitation, "review_invited": invitation.review}
    if invitation.status != "pending":
        context["unusable"] = services.INVITATION_UNUSABLE[invitation.status]
        return render(request, "reviews/invitation_accept.html", context, status=410)
    # Remembered so that signing in through the institution's provider may create the account.
    request.session[INVITATION_SESSION_KEY] = token
    here = reverse("invitation-accept", args=[token])
    if request.user.is_authenticated:
        if request.method == "POST":
            return _invitation_join(request, token, request.user)
        context["mismatch"] = (request.user.email or "").lower() != invitation.email.lower()
        return render(request, "reviews/invitation_accept.html", context)
    if services.invitation_user_exists(invitation=invitation):
        context["login_url"] = f"{reverse('login')}?next={here}"
        return render(request, "reviews/invitation_accept.html", context)
    form = InvitationSignupForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                user = services.invitation_signup(
                    token=token,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                )
            except ServiceError as exc:
                form_error_add(form, exc)
            else:
                auth_login(
                    request, user, backend="allauth.account.auth_backends.AuthenticationBackend"
                )
                request.session.pop(INVITATION_SESSION_KEY, None)
                messages.success(
                    request,
                    f"Welcome, {user.username}. You joined “{invitation.review.title}” as "
                    f"{invitation.get_role_display().lower()}.",
                )
                return redirect(invitation.review)
        status = 400
    context["form"] = form
    return render(request, "reviews/invitation_accept.html", context, status=status)


def _invitation_join(request, token, user):
    try:
        joined = services.invitation_accept(token=token, user=user)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("reviews:review-list")
    request.session.pop(INVITATION_SESSION_KEY, None)
    messages.success(
        request,
        f"You joined “{joined.review.title}” as {joined.get_role_display().lower()}.",
    )
    return redirect(joined.review)


@review_view(Capability.MANAGE_MEMBERS)
@require_POST
def member_role(request, member_id: int, *, review, membership):
    target = get_object_or_404(Membership, pk=member_id, review=review)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role from the list.")
    else:
        try:
            services.membership_change_role(
                membership=target, actor=membership, role=form.cleaned_data["role"]
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{target.user.username} is now {target.get_role_display()}.")
    return redirect("reviews:member-list", review.slug)


@review_view(Capability.MANAGE_MEMBERS)
@require_POST
def member_remove(request, member_id: int, *, review, membership):
    target = get_object_or_404(Membership, pk=member_id, review=review)
    try:
        services.membership_remove(membership=target, actor=membership)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{target.user.username} removed. Their decisions stay in the review."
        )
    return redirect("reviews:member-list", review.slug)
