from django.contrib import admin

from reviewapp.extraction.models import Extraction, ExtractionForm, ExtractionRevision, FormVersion

for model in (ExtractionForm, FormVersion, Extraction, ExtractionRevision):
    admin.site.register(model)
