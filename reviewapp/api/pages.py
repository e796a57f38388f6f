"""The page where a user makes or revokes their own API token (analysts' scripts, R, curl)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from rest_framework.authtoken.models import Token

from reviewapp.api.services import api_token_replace, api_token_revoke


@login_required
def api_token(request):
    """GET: whether I have a token. POST action=create|revoke. A new key is shown once, in the
    answer to the POST that made it; afterwards only its last four characters are."""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            token = api_token_replace(user=request.user)
            return render(request, "api/api_token.html", {"token": token, "new_key": token.key})
        if action == "revoke":
            if api_token_revoke(user=request.user):
                messages.success(request, "Your API token was revoked: it no longer works.")
            else:
                messages.info(request, "You had no API token.")
            return redirect("api-token")
        messages.error(request, f"Unknown action {action!r}: use create or revoke.")
        return redirect("api-token")
    token = Token.objects.filter(user=request.user).first()
    return render(request, "api/api_token.html", {"token": token, "new_key": None})
