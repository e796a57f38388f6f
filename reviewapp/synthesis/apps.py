from django.apps import AppConfig


class SynthesisConfig(AppConfig):
    name = "reviewapp.synthesis"
    label = "synthesis"
