"""The login stage that asks for a verified email address, for the accounts that gave one."""

from __future__ import annotations

from allauth.account import stages
from allauth.account.models import EmailAddress


class EmailVerificationStage(stages.EmailVerificationStage):
    """allauth's mandatory verification, except for accounts with no address on file.

    An account that signed itself up (or was created through an identity provider) has its
    address in allauth's table from the start and must verify it before it is used, which is
    what makes a sign-up policy by email domain mean anything. Accounts an operator made (the
    admin, createsuperuser, loaddemo) or that existed before allauth have no row there: they log
    in with their username as they always did.
    """

    def handle(self):
        user = self.login.user
        if user is not None and not EmailAddress.objects.filter(user_id=user.pk).exists():
            return None, True
        return super().handle()
