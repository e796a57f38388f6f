"""Settings come from the environment; junk values stop the start with the variable named."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reviewapp.env import EnvError, env_bool, env_hosts, env_int, env_url

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * 50


def _manage(*args, **env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ENTREZ_"))}
    env.pop("MEDIA_ROOT", None)
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DJANGO_DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://root@127.0.0.1/reviewapp"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:notaport/reviewapp"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432"),
        ("REDIS_URL", "http://127.0.0.1:6379/0"),
        ("REDIS_URL", "redis://"),
        ("DJANGO_ALLOWED_HOSTS", "example.org, bad host name"),
        ("ENTREZ_EMAIL", "not-an-email"),
        ("ENTREZ_BASE_URL", "ftp://eutils.example.org/"),
        ("MEDIA_ROOT", "relative/media"),
        ("DJANGO_SECURE_HSTS_SECONDS", "-5"),
        ("UPLOAD_MAX_MB", "lots"),
    ],
)
def test_a_malformed_value_stops_the_start_naming_the_variable(variable, value):
    result = _manage("check", **{"DJANGO_DEBUG": "1", variable: value})
    assert result.returncode != 0
    assert "Configuration error" in result.stderr
    assert variable in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DJANGO_DEBUG="0", DJANGO_ALLOWED_HOSTS="example.org")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_production_refuses_a_short_secret_key():
    result = _manage("check", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="short")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is shorter" in result.stderr


def test_deploy_check_reports_no_issues_in_production():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="a-long-random-production-secret-" + GOOD_KEY,
        DJANGO_ALLOWED_HOSTS="example.org",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_development_starts_with_no_variables_at_all():
    env = {"DJANGO_DEBUG": "1"}
    result = _manage("check", **env)
    assert result.returncode == 0, result.stderr


def test_env_bool_reads_the_usual_words():
    assert env_bool("X", False, environ={"X": "yes"}) is True
    assert env_bool("X", True, environ={"X": "Off"}) is False
    assert env_bool("X", True, environ={}) is True


def test_env_int_checks_its_range():
    assert env_int("N", 3, environ={"N": "7"}, minimum=1) == 7
    with pytest.raises(EnvError, match="N=0 is below the minimum of 1"):
        env_int("N", 3, environ={"N": "0"}, minimum=1)


def test_env_hosts_accepts_names_ports_and_dotted_wildcards():
    hosts = env_hosts("H", [], environ={"H": "example.org, .example.net,127.0.0.1:8000,[::1]"})
    assert hosts == ["example.org", ".example.net", "127.0.0.1:8000", "[::1]"]


def test_env_url_rejects_an_unexpected_scheme():
    with pytest.raises(EnvError, match="REDIS_URL='amqp://x' has scheme 'amqp'"):
        env_url("REDIS_URL", None, schemes=("redis",), environ={"REDIS_URL": "amqp://x"})


def test_celery_runs_eagerly_without_redis_and_through_redis_with_it(settings):
    # Decided at start from REDIS_URL, so test the rule the settings module applied.
    assert settings.CELERY_TASK_ALWAYS_EAGER is (os.environ.get("REDIS_URL") in (None, ""))
    if settings.REDIS_URL:
        assert settings.CELERY_BROKER_URL == settings.REDIS_URL
        assert settings.CELERY_RESULT_BACKEND == settings.REDIS_URL
