from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reviewapp.reporting"
    label = "reporting"
