from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def account_home(request):
    """One page for everything about one's account, linking to each part."""
    user = request.user
    types = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    context = {
        "emails": EmailAddress.objects.filter(user=user).order_by("-primary", "email"),
        "totp": Authenticator.Type.TOTP in types,
        "recovery_codes": Authenticator.Type.RECOVERY_CODES in types,
        "institution": settings.OIDC["name"] if settings.OIDC["server_url"] else None,
        "institution_connected": SocialAccount.objects.filter(user=user).exists(),
    }
    return render(request, "account/account_home.html", context)
