from django import forms

from reviewapp.reviews.constants import Role


class ReviewCreateForm(forms.Form):
    title = forms.CharField(max_length=300)
    slug = forms.SlugField(
        max_length=80,
        required=False,
        label="Short name",
        help_text="Used in addresses. Leave empty to make one from the title.",
    )
    question = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ReviewSettingsForm(forms.Form):
    title = forms.CharField(max_length=300)
    question = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    protocol_registration = forms.CharField(max_length=100, required=False)
    inclusion_criteria = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)
    exclusion_criteria = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)
    keywords_include = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One per line or separated by commas; phrases allowed; random* matches prefixes.",
    )
    keywords_exclude = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    ta_reviewers_required = forms.TypedChoiceField(
        label="Title/abstract: reviewers per record",
        choices=[(1, "1 (single screening)"), (2, "2 (dual independent screening)")],
        coerce=int,
    )
    ta_blinded = forms.BooleanField(label="Title/abstract: blinded", required=False)
    ft_reviewers_required = forms.TypedChoiceField(
        label="Full text: reviewers per record",
        choices=[(1, "1 (single screening)"), (2, "2 (dual independent screening)")],
        coerce=int,
    )
    ft_blinded = forms.BooleanField(label="Full text: blinded", required=False)


class MemberAddForm(forms.Form):
    user = forms.CharField(max_length=254, label="Username or email")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.REVIEWER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        label="Email address",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
        help_text="They get a link that works once; it expires if unused.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.REVIEWER)


class InvitationSignupForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        help_text="What your colleagues see next to your decisions. You can log in with it or "
        "with your email address.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not only digits, not a common password.",
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") != data.get("password1"):
            self.add_error("password2", "The two passwords differ; type the same one twice.")
        return data
