"""reviewapp: a Django app for systematic reviews.

The Celery app is created when Django starts (``CoreConfig.ready``), so that ``@shared_task``
binds to it in web and worker processes, and not when any module of the package is imported:
``manage.py pool`` and the other pure modules (statistics, parsers) need no Celery and no
Django. ``celery -A reviewapp`` finds it in ``reviewapp.celery``; ``reviewapp.celery_app`` still
resolves, on first use.
"""


def __getattr__(name: str):
    if name == "celery_app":
        from reviewapp.celery import app

        return app
    raise AttributeError(f"module 'reviewapp' has no attribute {name!r}")


__all__ = ("celery_app",)
