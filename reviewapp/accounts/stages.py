"""The login stage that asks for a verified email address, for the accounts that must have one."""

from __future__ import annotations

from allauth.account import stages

from reviewapp.accounts.models import SelfSignup


class EmailVerificationStage(stages.EmailVerificationStage):
    """allauth's mandatory verification, for accounts people made for themselves.

    An account from the sign-up page (or created through an identity provider) must verify its
    address before it is used, which is what makes a sign-up policy by email domain mean
    anything. Accounts an operator made (the admin, createsuperuser, loaddemo), those that existed
    before allauth, and those made from an invitation (whose link proved the address) log in with
    their username as they always did, even after allauth lists their address as unverified.
    """

    def handle(self):
        user = self.login.user
        if (
            user is not None
            and not self.login.signup
            and not SelfSignup.objects.filter(user_id=user.pk).exists()
        ):
            return None, True
        return super().handle()
