from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "reviewapp.screening"
    label = "screening"

    def ready(self):
        from reviewapp.screening import signals  # noqa: F401
        from reviewapp.screening.ranking_service import register

        register()
