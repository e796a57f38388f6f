from django.apps import AppConfig


class ExtractionConfig(AppConfig):
    name = "reviewapp.extraction"
    label = "extraction"
