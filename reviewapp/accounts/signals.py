from allauth.account.signals import user_signed_up
from django.dispatch import receiver

from reviewapp.accounts.models import SelfSignup


@receiver(user_signed_up, dispatch_uid="accounts.self_signup_record")
def self_signup_record(sender, request, user, **kwargs):
    SelfSignup.objects.get_or_create(user=user)
