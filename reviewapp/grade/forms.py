from django import forms

from reviewapp.grade.constants import Design, RatioKind
from reviewapp.grade.models import Assessment

NUMBER = {"inputmode": "decimal", "autocomplete": "off"}


class AssessmentForm(forms.Form):
    """The settings of an outcome's GRADE assessment. Values are checked by the service, which
    names the field at fault; the form only carries them and shows its refusal beside it."""

    design = forms.ChoiceField(
        label="The evidence comes from", choices=Design.choices, widget=forms.RadioSelect
    )
    rob_form = forms.ChoiceField(label="Risk-of-bias judgements from", required=False)
    baseline_per_1000 = forms.CharField(
        label="Assumed risk with the comparator, per 1,000",
        required=False,
        help_text="The baseline of the summary-of-findings table and of the optimal "
        "information size (for example the median control-group risk).",
        widget=forms.TextInput(attrs=NUMBER),
    )
    baseline_source = forms.CharField(
        label="Where the assumed risk comes from", required=False, max_length=200
    )
    ratio_kind = forms.ChoiceField(
        label="The pooled ratio is a", choices=RatioKind.choices, required=False
    )
    rrr = forms.CharField(
        label="Relative risk reduction for the optimal information size",
        help_text="As a fraction: 0.25 is GRADE's usual 25%. Alpha 0.05, power 80%.",
        widget=forms.TextInput(attrs=NUMBER),
    )
    threshold_low = forms.CharField(
        label="Lower decision threshold",
        required=False,
        help_text="On the scale of the pooled effect. Empty: 0.75 for ratios.",
        widget=forms.TextInput(attrs=NUMBER),
    )
    threshold_high = forms.CharField(
        label="Upper decision threshold",
        required=False,
        help_text="Empty: 1.25 for ratios.",
        widget=forms.TextInput(attrs=NUMBER),
    )
    participants = forms.CharField(
        label="Participants",
        required=False,
        help_text="Only when the pooled data do not say (generic inverse-variance estimates).",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    comments = forms.CharField(
        label="Comments for the summary-of-findings table",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, assessment: Assessment, rob_forms, ratio_generic: bool, **kwargs):
        initial = {
            "design": assessment.design,
            "rob_form": assessment.rob_form_id or "",
            "baseline_per_1000": _plain(assessment.baseline_per_1000),
            "baseline_source": assessment.baseline_source,
            "ratio_kind": assessment.ratio_kind,
            "rrr": _plain(assessment.rrr),
            "threshold_low": _plain(assessment.threshold_low),
            "threshold_high": _plain(assessment.threshold_high),
            "participants": assessment.participants or "",
            "comments": assessment.comments,
        }
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        rob_field = self.fields["rob_form"]
        assert isinstance(rob_field, forms.ChoiceField)
        rob_field.choices = [("", "None (judge risk of bias yourself)")] + [
            (str(f.pk), f.name) for f in rob_forms
        ]
        if not ratio_generic:
            del self.fields["ratio_kind"]


def _plain(value) -> str:
    if value is None:
        return ""
    return f"{value:g}"


class BaselineForm(forms.Form):
    baseline_per_1000 = forms.CharField(
        label="Assumed risk per 1,000", required=False, widget=forms.TextInput(attrs=NUMBER)
    )
    baseline_source = forms.CharField(label="Source", required=False, max_length=200)
