from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from reviewapp.core.errors import ServiceError, form_error_add
from reviewapp.core.permissions import review_view
from reviewapp.reviews import services
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.forms import (
    MemberAddForm,
    MemberRoleForm,
    ReviewCreateForm,
    ReviewSettingsForm,
)
from reviewapp.reviews.models import Membership
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
    members = review.memberships.select_related("user").order_by("user__username")
    return render(
        request,
        "reviews/member_list.html",
        {
            "review": review,
            "membership": membership,
            "members": members,
            "form": form,
            "role_form": MemberRoleForm(),
            "can_add": membership.can(Capability.ADD_MEMBERS),
            "can_manage": membership.can(Capability.MANAGE_MEMBERS),
        },
    )


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
