"""Who may change the team."""

import pytest
from django.urls import reverse

from reviewapp.core.errors import ServiceError
from reviewapp.reviews.constants import Role
from reviewapp.reviews.models import Membership
from reviewapp.reviews.services import membership_add, membership_change_role, membership_remove
from tests.conftest import membership_of
from tests.factories import UserFactory


def test_owner_adds_a_member_by_email(client, owner, review):
    newcomer = UserFactory(username="nina", email="Nina@Example.org")
    client.force_login(owner)
    response = client.post(
        reverse("reviews:member-list", args=[review.slug]),
        {"user": "nina@example.org", "role": Role.REVIEWER},
    )
    assert response.status_code == 302
    assert Membership.objects.get(review=review, user=newcomer).role == Role.REVIEWER


def test_adding_an_unknown_user_says_who_was_not_found(client, owner, review):
    client.force_login(owner)
    response = client.post(
        reverse("reviews:member-list", args=[review.slug]), {"user": "ghost", "role": "reviewer"}
    )
    assert response.status_code == 200
    assert "No active user has the username or email" in response.content.decode()
    assert "ghost" in response.content.decode()


def test_a_reviewer_cannot_add_members(client, reviewer, review):
    UserFactory(username="nina")
    client.force_login(reviewer)
    response = client.post(
        reverse("reviews:member-list", args=[review.slug]), {"user": "nina", "role": "admin"}
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(user__username="nina").exists()


def test_a_reviewer_cannot_change_or_remove_members(client, reviewer, analyst, review):
    client.force_login(reviewer)
    target = membership_of(analyst, review)
    role_url = reverse("reviews:member-role", args=[review.slug, target.pk])
    assert client.post(role_url, {"role": "owner"}).status_code == 403
    remove_url = reverse("reviews:member-remove", args=[review.slug, target.pk])
    assert client.post(remove_url).status_code == 403
    target.refresh_from_db()
    assert target.role == Role.ANALYST


def test_an_admin_can_add_but_not_change_roles(client, review_admin, reviewer, review):
    client.force_login(review_admin)
    target = membership_of(reviewer, review)
    url = reverse("reviews:member-role", args=[review.slug, target.pk])
    assert client.post(url, {"role": "admin"}).status_code == 403
    with pytest.raises(ServiceError, match="Only an owner can add another owner"):
        membership_add(
            review=review,
            actor=membership_of(review_admin, review),
            identifier=UserFactory().username,
            role=Role.OWNER,
        )


def test_owner_changes_a_role(client, owner, reviewer, review):
    client.force_login(owner)
    target = membership_of(reviewer, review)
    client.post(reverse("reviews:member-role", args=[review.slug, target.pk]), {"role": "admin"})
    target.refresh_from_db()
    assert target.role == Role.ADMIN


def test_the_last_owner_can_be_neither_demoted_nor_removed(owner, review):
    me = membership_of(owner, review)
    with pytest.raises(ServiceError, match="at least one owner"):
        membership_change_role(membership=me, actor=me, role=Role.REVIEWER)
    with pytest.raises(ServiceError, match="at least one owner"):
        membership_remove(membership=me, actor=me)


def test_an_analyst_can_read_the_dashboard_but_not_the_settings(client, analyst, review):
    client.force_login(analyst)
    assert client.get(reverse("reviews:review-detail", args=[review.slug])).status_code == 200
    assert client.get(reverse("reviews:review-settings", args=[review.slug])).status_code == 403


def test_a_member_is_added_once(owner, reviewer, review):
    with pytest.raises(ServiceError, match="already a member"):
        membership_add(
            review=review, actor=membership_of(owner, review), identifier="rita", role="admin"
        )
