"""What the web server does before its first request (reviewapp/wsgi.py, gunicorn_conf.py)."""

import importlib
from pathlib import Path

from django.template import engines

ROOT = Path(__file__).resolve().parents[2]


def test_warm_up_imports_the_urls_and_compiles_every_template():
    wsgi = importlib.import_module("reviewapp.wsgi")
    loader = engines["django"].engine.template_loaders[0]
    loader.reset()
    wsgi.warm_up()
    compiled = {key.split(":", 1)[0] for key in loader.get_template_cache}
    on_disk = {str(p.relative_to(ROOT / "templates")) for p in (ROOT / "templates").rglob("*.html")}
    assert on_disk and on_disk <= compiled


def test_gunicorn_preloads_the_app_and_freezes_what_it_imported(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    conf = importlib.reload(importlib.import_module("reviewapp.gunicorn_conf"))
    assert conf.preload_app is True
    assert conf.workers == 3
    assert (conf.worker_class, conf.threads) == ("gthread", 2)
    frozen = []
    monkeypatch.setattr(conf.gc, "freeze", lambda: frozen.append(True))
    conf.when_ready(server=None)
    assert frozen == [True]
