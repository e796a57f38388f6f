from django import forms

from reviewapp.reporting.constants import ManualPrismaField


class ManualCountsForm(forms.Form):
    """One optional whole number per hand-entered PRISMA box."""

    note = forms.CharField(
        max_length=300, required=False, help_text="Where these numbers come from"
    )

    def __init__(self, *args, initial_values: dict[str, int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for field in ManualPrismaField:
            self.fields[field.value] = forms.IntegerField(
                label=field.label,
                min_value=0,
                required=False,
                initial=(initial_values or {}).get(field.value),
            )
        self.order_fields([f.value for f in ManualPrismaField] + ["note"])
