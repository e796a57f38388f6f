"""WSGI entry point (gunicorn -c python:reviewapp.gunicorn_conf reviewapp.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
application = get_wsgi_application()


def warm_up() -> None:
    """Do at start-up what Django otherwise does on the first requests of each process: import
    the URLconf, and so every view (about two seconds, with numpy, scipy and matplotlib), and
    compile our templates (about a tenth of a second the first time each page is drawn). With
    gunicorn's preload_app the workers are forked from a process that did it once, so no
    reviewer's request waits for it, even on a restarted worker.
    """
    from pathlib import Path

    from django.template import engines
    from django.template.loader import get_template
    from django.urls import get_resolver

    get_resolver().resolve("/healthz")
    for folder in map(Path, engines["django"].dirs):
        for path in sorted(folder.rglob("*.html")):
            get_template(str(path.relative_to(folder)))


warm_up()
