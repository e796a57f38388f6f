from django.apps import AppConfig


class LiteratureConfig(AppConfig):
    name = "reviewapp.literature"
    label = "literature"

    def ready(self):
        from reviewapp.literature import signals  # noqa: F401
