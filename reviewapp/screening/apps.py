from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "reviewapp.screening"
    label = "screening"
