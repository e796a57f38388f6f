from django.conf import settings
from django.db import models


class SelfSignup(models.Model):
    """An account someone made for themselves (the sign-up page or an identity provider).

    Such an account must verify its email address before it is used; accounts an operator made,
    or made from an invitation (whose link proved the address), never have a row here.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="self_signup"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} signed up on {self.created_at:%Y-%m-%d}"
