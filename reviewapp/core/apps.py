from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "reviewapp.core"
    label = "core"

    def ready(self) -> None:
        # Create the Celery app with Django (web, worker, tests, `make run`), before any task is
        # queued, so that every @shared_task binds to it rather than to Celery's unconfigured
        # default app. reviewapp/__init__.py no longer imports it, so pure modules stay light.
        import reviewapp.celery  # noqa: F401
