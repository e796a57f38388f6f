from django import forms

from reviewapp.synthesis.constants import Measure, Method, Model


class AnalysisForm(forms.Form):
    name = forms.CharField(max_length=200)
    outcome = forms.ChoiceField(help_text="Form, effect data, outcome and time point")
    measure = forms.ChoiceField(choices=Measure.choices)
    model = forms.ChoiceField(choices=Model.choices, initial=Model.RANDOM)
    method = forms.ChoiceField(
        choices=[(m.value, m.label) for m in Method if m not in (Method.IV,)],
        initial=Method.REML,
        help_text="tau² estimator for random effects; Mantel-Haenszel or inverse variance for a "
        "common effect",
    )
    hksj = forms.BooleanField(required=False, label="Hartung-Knapp-Sidik-Jonkman adjustment")
    ratio = forms.BooleanField(
        required=False,
        initial=True,
        label="Estimates are ratios (pool on the log scale)",
        help_text="For effect data given as an estimate with a CI, e.g. hazard ratios",
    )

    def __init__(self, *args, outcome_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = [
            (
                c.value,
                f"{c.form_name}: {c.group_label} — {c.outcome}"
                + (f" at {c.time_point}" if c.time_point else "")
                + f" ({c.n_studies} stud{'y' if c.n_studies == 1 else 'ies'})",
            )
            for c in outcome_choices
        ]


class SubgroupForm(forms.Form):
    by = forms.ChoiceField(
        label="Subgroups by",
        error_messages={"required": "Choose the field that defines the subgroups."},
        help_text="An extracted field, or the overall risk-of-bias judgement",
    )

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, prefix="subgroup", **kwargs)
        self.fields["by"].choices = list(choices)


class MetaRegressionForm(forms.Form):
    moderators = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose one or more moderators."},
        help_text="Number fields enter as they are; other fields as categories against the "
        "first in alphabetical order",
    )

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, prefix="metareg", **kwargs)
        self.fields["moderators"].choices = list(choices)


class CumulativeForm(forms.Form):
    by = forms.ChoiceField(
        label="Add the studies in the order of",
        error_messages={"required": "Choose the order to add the studies in."},
    )

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, prefix="cumulative", **kwargs)
        self.fields["by"].choices = list(choices)


class SensitivityForm(forms.Form):
    """No choices: leave-one-out, and the pooled result without studies at high risk of bias."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="sensitivity", **kwargs)


class RobFormForm(forms.Form):
    rob_form = forms.TypedChoiceField(
        label="Risk of bias from", coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, prefix="rob", **kwargs)
        self.fields["rob_form"].choices = [("", "None")] + list(choices)
