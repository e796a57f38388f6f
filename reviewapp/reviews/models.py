from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from reviewapp.core.models import TimeStampedModel
from reviewapp.reviews.constants import ROLE_CAPABILITIES, Role


class Review(TimeStampedModel):
    """A systematic review: its question, protocol and eligibility criteria, and its team."""

    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=80, unique=True)
    question = models.TextField(blank=True, help_text="The review question, e.g. in PICO form.")
    protocol_registration = models.CharField(
        max_length=100, blank=True, help_text="Registry and id, e.g. PROSPERO CRD42018123456."
    )
    inclusion_criteria = models.TextField(blank=True)
    exclusion_criteria = models.TextField(blank=True)
    # Highlighted in titles and abstracts while screening: phrases, and word prefixes like random*.
    keywords_include = models.JSONField(default=list, blank=True)
    keywords_exclude = models.JSONField(default=list, blank=True)
    is_demo = models.BooleanField(default=False, help_text="Demo data, not a real review.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("reviews:review-detail", args=[self.slug])


class Membership(TimeStampedModel):
    """A user's role in one review. Everything inside a review is visible only to its members."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    is_adjudicator = models.BooleanField(
        default=False, help_text="May resolve screening conflicts without being owner or admin."
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Not a field: set on the memberships reviewapp.reviews.selectors.reviews_for_user returns.
    record_count: int

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "user"], name="membership_one_per_user"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]
        indexes = [models.Index(fields=["user", "review"])]
        ordering = ["review", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} in {self.review}"

    def can(self, capability: str) -> bool:
        if capability == "adjudicate" and self.is_adjudicator:
            return True
        return capability in ROLE_CAPABILITIES[self.role]


class Invitation(TimeStampedModel):
    """An invitation by email to join one review with a role.

    The link carries a random token; only its SHA-256 digest is stored, so the table alone opens
    no review. A link is single-use, expires after INVITATION_DAYS, and can be revoked; accepting
    it creates the account (or uses the visitor's) and adds exactly one membership, in this review.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Role.choices)
    token_digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The latest message that carried the link: the team page shows whether it went out.
    message = models.ForeignKey(
        "mail.OutboundEmail", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["review", "email"])]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="invitation_role_valid")
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.role} in {self.review}"

    @property
    def status(self) -> str:
        """accepted, revoked, expired or pending."""
        from django.utils import timezone

        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
