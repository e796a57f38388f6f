from django import forms

from reviewapp.audit.constants import ACTION_GROUPS

SYSTEM = "system"


class AuditFilterForm(forms.Form):
    """The log's filters. Every field optional; an unknown choice or a bad date is an error shown
    beside its field, and the log is then shown unfiltered by it."""

    who = forms.ChoiceField(label="Who", required=False)
    what = forms.ChoiceField(
        label="What", required=False, choices=[("", "Any change"), *ACTION_GROUPS]
    )
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(label="Target contains", required=False, max_length=100)

    def __init__(self, *args, members: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        who = self.fields["who"]
        assert isinstance(who, forms.ChoiceField)
        who.choices = [
            ("", "Anyone"),
            *[(str(pk), name) for pk, name in members],
            (SYSTEM, "System (automatic)"),
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date must be on or after the start date.")
        return data
