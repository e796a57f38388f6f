from django import forms

from reviewapp.literature.constants import ImportFormat, LivingSchedule, SourceKind


class SearchForm(forms.Form):
    query = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="PubMed syntax, e.g. natalizumab[tiab] AND (discontinu*[tiab] OR withdraw*[tiab])",
    )
    mindate = forms.CharField(
        required=False, label="Published from", help_text="YYYY, YYYY/MM or YYYY/MM/DD"
    )
    maxdate = forms.CharField(required=False, label="Published until")


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="RIS, BibTeX, PubMed (MEDLINE/.nbib or XML), Web of Science, Scopus or Embase "
        "CSV, Ovid, EBSCOhost, Cochrane Library, RefWorks, EndNote XML, or a list of PMIDs or DOIs"
    )
    format = forms.ChoiceField(
        choices=[("auto", "Detect automatically"), *ImportFormat.choices], initial="auto"
    )
    source_database = forms.CharField(
        max_length=100, required=False, help_text="e.g. Embase, Scopus, Web of Science"
    )
    source_kind = forms.ChoiceField(choices=SourceKind.choices, initial=SourceKind.DATABASE)


class DuplicateMarkForm(forms.Form):
    duplicate = forms.IntegerField(label="Record number of the duplicate", min_value=1)
    primary = forms.IntegerField(label="Record number it duplicates", min_value=1)


class ScheduleForm(forms.Form):
    schedule = forms.ChoiceField(
        choices=LivingSchedule.choices,
        label="Run this search again by itself",
        help_text="From its last good run; each run adds only records PubMed entered since.",
    )
