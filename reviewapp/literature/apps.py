from django.apps import AppConfig


class LiteratureConfig(AppConfig):
    name = "reviewapp.literature"
    label = "literature"
