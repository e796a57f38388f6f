"""How allauth fits reviewapp: sign-up policy, mail through the outbox, client addresses."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site

from reviewapp.accounts.policy import domain_allowed
from reviewapp.core.throttling import client_ip
from reviewapp.mail.services import email_queue_message

INVITATION_SESSION_KEY = "invitation_token"


def invitation_in_session(request) -> bool:
    """Whether this browser opened a valid invitation link: it may then create an account (with
    an identity provider too) even on a site where sign-up is by invitation only."""
    from reviewapp.reviews.services import invitation_find

    token = request.session.get(INVITATION_SESSION_KEY) if request is not None else ""
    return bool(token) and invitation_find(token=str(token)) is not None


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Invitation only (the default): accounts are made from an invitation's page instead.
        return settings.SIGNUP_POLICY in ("open", "domains")

    def clean_email(self, email: str) -> str:
        email = super().clean_email(email)
        if settings.SIGNUP_POLICY == "domains" and not domain_allowed(
            email, settings.SIGNUP_EMAIL_DOMAINS
        ):
            raise forms.ValidationError(
                "Accounts here are for addresses at "
                + ", ".join(settings.SIGNUP_EMAIL_DOMAINS)
                + ". Use your address there, or ask a review's owner to invite you."
            )
        return email

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """allauth's mails (reset, verification) go through the outbox like every other."""
        from allauth.core import context as allauth_context

        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request)}
        ctx.update(context)
        message = self.render_mail(template_prefix, email, ctx)
        email_queue_message(message, kind=template_prefix.rsplit("/", 1)[-1])

    def get_client_ip(self, request) -> str:
        # The same address as login throttling and the API throttles: trusted proxies only.
        return client_ip(request) or "0.0.0.0"  # noqa: S104 - a key for counting, not a bind

    def get_login_stages(self) -> list[str]:
        return [
            "reviewapp.accounts.stages.EmailVerificationStage"
            if stage == "allauth.account.stages.EmailVerificationStage"
            else stage
            for stage in super().get_login_stages()
        ]


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        """A person the institution's identity provider vouches for gets an account when
        OIDC_SIGNUP is on, when they hold an invitation, or as the site's sign-up policy says."""
        if settings.OIDC["signup"] or invitation_in_session(request):
            return True
        if settings.SIGNUP_POLICY == "open":
            return True
        if settings.SIGNUP_POLICY == "domains":
            email = sociallogin.user.email or ""
            return bool(email) and domain_allowed(email, settings.SIGNUP_EMAIL_DOMAINS)
        return False
