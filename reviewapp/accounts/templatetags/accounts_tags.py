from django import template
from django.conf import settings
from django.urls import reverse

register = template.Library()


@register.inclusion_tag("account/partials/_institution_button.html", takes_context=True)
def institution_login(context, next_url: str = ""):
    """The "Log in with <institution>" button, when OpenID Connect is configured."""
    oidc = settings.OIDC
    if not oidc["server_url"]:
        return {"enabled": False}
    url = reverse("openid_connect_login", kwargs={"provider_id": "institution"})
    return {
        "enabled": True,
        "url": url,
        "name": oidc["name"],
        "next": next_url,
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag
def signup_is_open() -> bool:
    """Whether anyone may create an account from the sign-up page (SIGNUP_POLICY)."""
    return settings.SIGNUP_POLICY in ("open", "domains")
