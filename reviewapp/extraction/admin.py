from django.contrib import admin

from reviewapp.extraction.models import (
    ExportJob,
    Extraction,
    ExtractionForm,
    ExtractionRevision,
    FormVersion,
)

for model in (ExtractionForm, FormVersion, Extraction, ExtractionRevision):
    admin.site.register(model)

admin.site.register(ExportJob)
