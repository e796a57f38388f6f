from django import forms

from reviewapp.notifications.constants import Frequency


class PreferenceForm(forms.Form):
    frequency = forms.ChoiceField(
        choices=Frequency.choices,
        widget=forms.RadioSelect,
        label="Email me about this review",
        help_text="Records waiting for your vote, conflicts you may resolve, studies whose "
        "extractions wait for a consensus you may decide, new records a living search found, and "
        "invitations accepted (for owners and admins).",
    )
