"""docker-compose.yml and .env.example are checked by reading: no Docker engine runs here."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_web_worker_postgres_and_redis_with_healthchecks():
    services = _compose()["services"]
    assert {"web", "worker", "postgres", "redis"} <= set(services)
    for name in ("web", "worker", "postgres", "redis"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    # The same server settings as the image and the benchmark (reviewapp/gunicorn_conf.py).
    assert services["web"]["command"][:3] == [
        "gunicorn",
        "--config",
        "python:reviewapp.gunicorn_conf",
    ]
    assert '"python:reviewapp.gunicorn_conf"' in (ROOT / "Dockerfile").read_text()
    assert services["worker"]["command"][:3] == ["celery", "-A", "reviewapp"]


def test_compose_keeps_the_database_and_uploads_in_named_volumes():
    compose = _compose()
    assert {"pgdata", "media"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    for name in ("web", "worker"):
        assert "media:/data/media" in compose["services"][name]["volumes"]
        assert compose["services"][name]["environment"]["MEDIA_ROOT"] == "/data/media"


def test_compose_points_web_and_worker_at_the_shared_postgres_and_redis():
    for name in ("web", "worker"):
        env = _compose()["services"][name]["environment"]
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379")
        assert env["DJANGO_DEBUG"] == "0"


def test_env_example_lists_every_variable_the_settings_read():
    source = (ROOT / "reviewapp" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', source))
    listed = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "found no variables in settings.py; the pattern above is out of date"
    assert read <= listed, f"missing from .env.example: {sorted(read - listed)}"
