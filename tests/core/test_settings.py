"""Settings come from the environment; junk values stop the start with the variable named."""

import base64
import hashlib
import hmac
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from reviewapp.env import (
    EnvError,
    env_bool,
    env_hosts,
    env_int,
    env_secret,
    env_url,
    is_placeholder,
)

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * 50


def _manage(*args, **env_overrides):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ENTREZ_", "POSTGRES_"))
    }
    env.pop("MEDIA_ROOT", None)
    if "POSTGRES_HOST" in env_overrides:
        env.pop("DATABASE_URL", None)
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


def _env_example_values():
    """The uncommented and commented `NAME=value` lines of .env.example, as a dict."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z_]+)=(.*)$", line)
        if match:
            values.setdefault(match.group(1), match.group(2).strip())
    return values


# The secrets .env.example ships with a stand-in for; each must be refused in production.
SECRETS_IN_ENV_EXAMPLE = ["DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "DATABASE_URL"]


@pytest.mark.parametrize("variable", SECRETS_IN_ENV_EXAMPLE)
def test_production_refuses_each_placeholder_secret_of_env_example_naming_the_variable(variable):
    example = _env_example_values()[variable]
    env = {
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "example.org",
        "DJANGO_SECRET_KEY": "a-long-random-production-secret-" + GOOD_KEY,
    }
    if variable == "POSTGRES_PASSWORD":
        env["POSTGRES_HOST"] = "127.0.0.1"
    env[variable] = example
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "Configuration error" in result.stderr
    assert variable in result.stderr and "placeholder" in result.stderr


def test_development_accepts_the_env_example_placeholders():
    example = _env_example_values()
    result = _manage(
        "check",
        DJANGO_DEBUG="1",
        DJANGO_SECRET_KEY=example["DJANGO_SECRET_KEY"],
        POSTGRES_HOST="127.0.0.1",
        POSTGRES_PASSWORD=example["POSTGRES_PASSWORD"],
    )
    assert result.returncode == 0, result.stderr


def test_a_refused_secret_is_not_echoed_in_the_message():
    with pytest.raises(EnvError) as caught:
        env_secret(
            "POSTGRES_PASSWORD",
            refuse_placeholder=True,
            environ={"POSTGRES_PASSWORD": "ChangeMe42"},
        )
    assert "POSTGRES_PASSWORD" in str(caught.value)
    assert "ChangeMe42" not in str(caught.value)


def test_a_random_secret_is_not_taken_for_a_placeholder():
    for _ in range(200):
        assert not is_placeholder(secrets.token_urlsafe(50))
    assert is_placeholder("change-me") and is_placeholder("CHANGEME") and is_placeholder("password")


def test_a_password_keeps_its_surrounding_spaces():
    environ = {"POSTGRES_PASSWORD": " p@ss:w/rd#1 "}
    value = env_secret("POSTGRES_PASSWORD", refuse_placeholder=True, strip=False, environ=environ)
    assert value == " p@ss:w/rd#1 "


def test_database_url_and_postgres_host_together_are_refused():
    result = _manage(
        "check",
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/reviewapp",
        POSTGRES_HOST="127.0.0.1",
    )
    assert result.returncode != 0
    assert "DATABASE_URL and POSTGRES_HOST are both set" in result.stderr


AWKWARD_PASSWORD = "p@ss:w/rd#1?%x"


def test_a_database_url_with_an_unencoded_awkward_password_is_refused_with_a_hint():
    result = _manage(
        "check",
        DJANGO_DEBUG="1",
        DATABASE_URL=f"postgres://reviewapp:{AWKWARD_PASSWORD}@127.0.0.1:5432/reviewapp",
    )
    assert result.returncode != 0
    assert "DATABASE_URL is not a valid URL" in result.stderr
    assert "percent-encoded" in result.stderr


def test_a_database_url_with_a_percent_encoded_password_gives_the_password_back(monkeypatch):
    from reviewapp.settings import _database_from_env

    monkeypatch.delenv("POSTGRES_HOST", raising=False)
    monkeypatch.setenv(
        "DATABASE_URL",
        f"postgres://reviewapp:{quote(AWKWARD_PASSWORD, safe='')}@127.0.0.1:5432/reviewapp",
    )
    database = _database_from_env(production=True)
    assert (database["USER"], database["PASSWORD"], database["NAME"]) == (
        "reviewapp",
        AWKWARD_PASSWORD,
        "reviewapp",
    )


def _scram_matches(verifier: str, password: str) -> bool:
    """Whether PostgreSQL's stored SCRAM-SHA-256 verifier is that of `password` (RFC 5802:
    StoredKey = H(HMAC(PBKDF2(password, salt, i), "Client Key")))."""
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = keys.split(":")[0]
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return method == "SCRAM-SHA-256" and hashlib.sha256(client_key).digest() == base64.b64decode(
        stored_key
    )


@pytest.mark.services
def test_postgres_pieces_carry_an_awkward_password_to_the_server_unquoted(
    monkeypatch, django_db_blocker
):
    """The compose path: POSTGRES_* pieces, a password with @ : / # ? %, a real PostgreSQL role."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL to create a role there")
    import psycopg2
    from django.db.utils import ConnectionHandler

    from reviewapp.settings import _database_from_env

    admin_url = os.environ["DATABASE_URL"]
    server = urlsplit(admin_url)
    role = "reviewapp_test_awkward_password"
    admin = psycopg2.connect(admin_url, dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP ROLE IF EXISTS "{role}"')
            cursor.execute("SET password_encryption = 'scram-sha-256'")
            cursor.execute(f'CREATE ROLE "{role}" LOGIN PASSWORD %s', [AWKWARD_PASSWORD])
            cursor.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role])
            verifier = cursor.fetchone()[0]
        monkeypatch.delenv("DATABASE_URL")
        for name, value in {
            "POSTGRES_HOST": server.hostname,
            "POSTGRES_PORT": str(server.port or 5432),
            "POSTGRES_DB": "postgres",
            "POSTGRES_USER": role,
            "POSTGRES_PASSWORD": AWKWARD_PASSWORD,
        }.items():
            monkeypatch.setenv(name, value)
        connections = ConnectionHandler({"default": dict(_database_from_env(production=True))})
        wrapper = connections["default"]
        try:
            # A connection of its own, outside the test database pytest-django guards.
            with django_db_blocker.unblock(), wrapper.cursor() as cursor:
                cursor.execute("SELECT current_user")
                assert cursor.fetchone()[0] == role
            # What libpq was handed, byte for byte, is the password the role was created with
            # (the machine's server trusts local connections, so its own check proves nothing).
            sent = wrapper.connection.info.password
            assert sent == AWKWARD_PASSWORD
            assert _scram_matches(verifier, sent)
        finally:
            wrapper.close()
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def test_postgres_connections_turn_jit_off_and_keep_the_options_a_url_gives(monkeypatch):
    from reviewapp.settings import _database_from_env

    monkeypatch.delenv("POSTGRES_HOST", raising=False)
    monkeypatch.setenv(
        "DATABASE_URL",
        "postgres://reviewapp:pw@127.0.0.1:5432/reviewapp?options=-c%20statement_timeout%3D5000",
    )
    options = _database_from_env(production=True)["OPTIONS"]["options"]
    assert options == "-c jit=off -c statement_timeout=5000"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("POSTGRES_HOST", "127.0.0.1")
    monkeypatch.setenv("POSTGRES_PASSWORD", "a-real-password-for-the-test")
    assert _database_from_env(production=True)["OPTIONS"]["options"] == "-c jit=off"


@pytest.mark.django_db
def test_the_apps_postgres_sessions_run_without_jit():
    """JIT compiling took 45-70 ms of a 10 ms counts statement on the benchmark database."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("JIT is PostgreSQL's (DATABASE_URL unset: SQLite)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
