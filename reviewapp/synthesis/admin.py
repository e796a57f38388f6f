from django.contrib import admin

from reviewapp.synthesis.models import Analysis, AnalysisResult

admin.site.register(Analysis)
admin.site.register(AnalysisResult)
