"""Forms of the sign-in pages, on top of allauth's."""

from __future__ import annotations

from allauth.account import forms as allauth_forms


class LoginForm(allauth_forms.LoginForm):
    """allauth's login form (a username or an email address, and a password).

    The field was called `username` before allauth; scripts and bookmarks that still post it
    (bench/, API clients logging in for a session) are read as `login`.
    """

    def __init__(self, *args, **kwargs):
        data = kwargs.get("data")
        if data is not None and "login" not in data and "username" in data:
            data = data.copy()
            data["login"] = data["username"]
            kwargs["data"] = data
        super().__init__(*args, **kwargs)
        field = self.fields["login"]
        field.label = "Username or email address"
        field.widget.attrs.pop("placeholder", None)
        field.widget.attrs["autocomplete"] = "username"
        field.widget.attrs["autocapitalize"] = "none"
        self.fields["password"].widget.attrs.pop("placeholder", None)
        if "remember" in self.fields:
            self.fields["remember"].label = "Keep me logged in on this device"
