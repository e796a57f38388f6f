"""docker-compose.yml, .env.example, .dockerignore and the locks are checked by reading: no Docker
engine runs here. tests/core/test_compose_production.py runs the services' commands and health
checks as compose would."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


LONG_RUNNING = ("web", "worker", "beat", "postgres", "redis")


def test_compose_runs_web_worker_beat_postgres_redis_and_a_one_shot_migrate():
    services = _compose()["services"]
    assert set(LONG_RUNNING) | {"migrate"} <= set(services)
    for name in LONG_RUNNING:
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    # migrate runs once; the app's services start only after it has succeeded.
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    # The same server settings as the image and the benchmark (reviewapp/gunicorn_conf.py).
    assert services["web"]["command"][:3] == [
        "gunicorn",
        "--config",
        "python:reviewapp.gunicorn_conf",
    ]
    assert '"python:reviewapp.gunicorn_conf"' in (ROOT / "Dockerfile").read_text()
    assert services["worker"]["command"][:3] == ["celery", "-A", "reviewapp"]


def test_web_healthcheck_asks_the_liveness_url_with_an_allowed_host():
    test = _compose()["services"]["web"]["healthcheck"]["test"]
    # Not curl with Host: localhost, which a production ALLOWED_HOSTS refuses.
    assert test == [
        "CMD",
        "python",
        "-m",
        "reviewapp.healthcheck",
        "http://127.0.0.1:8000/healthz/live",
    ]


def test_beat_runs_once_with_its_schedule_in_a_volume_and_answers_pings():
    compose = _compose()
    beat = compose["services"]["beat"]
    assert beat["command"][:4] == ["celery", "-A", "reviewapp", "beat"]
    assert "--schedule=/data/beat/celerybeat-schedule" in beat["command"]
    assert "--enable-remote-control" in beat["command"]
    assert "beat:/data/beat" in beat["volumes"] and "beat" in compose["volumes"]
    assert "celerybeat@$$HOSTNAME" in beat["healthcheck"]["test"][1]
    assert "deploy" not in beat or beat["deploy"].get("replicas", 1) == 1


def test_web_and_worker_scale_and_beat_and_migrate_stay_single():
    """`docker compose up --scale web=N --scale worker=M` works; beat and migrate stay one."""
    services = _compose()["services"]
    for name in ("web", "worker"):
        # A fixed host port or container name would make a second replica clash with the first.
        assert "ports" not in services[name], f"{name} publishes a host port: it cannot scale"
        assert "container_name" not in services[name]
        assert services[name].get("deploy", {}).get("replicas", 1) >= 1
    assert services["web"]["expose"] == ["8000"]
    # Compose refuses to scale a service with a fixed container name: one beat, whatever is asked.
    assert services["beat"]["container_name"]
    # Migrations run once, in the one-shot service every replica waits for; no replica (and not
    # the image's default command) migrates as it starts, racing the others.
    for name, service in services.items():
        command = service.get("command") or []
        command = " ".join(command) if isinstance(command, list) else command
        assert ("migrate" in command) == (name == "migrate"), name
    assert "migrate" not in (ROOT / "Dockerfile").read_text().split("CMD", 1)[1]
    assert "container_name" not in services["migrate"] and "deploy" not in services["migrate"]


def _nginx_conf() -> str:
    return (ROOT / "deploy" / "nginx.conf").read_text()


def test_the_proxy_is_the_one_published_port_and_balances_across_web_replicas():
    compose = _compose()
    services = compose["services"]
    # (Opt-in profiles aside: mailpit's page, `--profile mail`, is on the host's loopback only.)
    published = [
        name
        for name, service in services.items()
        if service.get("ports") and not service.get("profiles")
    ]
    assert published == ["proxy"]
    proxy = services["proxy"]
    assert proxy["ports"] == ["${HTTP_PORT:-8000}:8000"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert proxy["depends_on"]["web"] == {"condition": "service_healthy"}
    assert "/proxy/health" in proxy["healthcheck"]["test"][-1]
    conf = _nginx_conf()
    directives = [line.strip() for line in conf.splitlines() if not line.strip().startswith("#")]
    assert "listen 8000;" in directives
    assert "location = /proxy/health {" in directives
    # The upstream is the web service on the port gunicorn binds in the image
    # (reviewapp/gunicorn_conf.py), resolved at run time through Docker's DNS, so every replica
    # (and one added later by --scale) is found.
    assert "resolver 127.0.0.11 valid=10s ipv6=off;" in directives
    assert "set $web_replicas http://web:8000;" in directives
    assert "proxy_pass $web_replicas;" in directives
    assert (
        '"GUNICORN_BIND", "0.0.0.0:8000"' in (ROOT / "reviewapp" / "gunicorn_conf.py").read_text()
    )
    # The app sees the client's host, address and scheme as the settings expect them.
    assert "proxy_set_header Host $host;" in directives
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in directives
    assert any(d.startswith("proxy_set_header X-Forwarded-Proto ") for d in directives)
    # Uploads as large as the app accepts, and no timeout before gunicorn's own.
    body = re.search(r"client_max_body_size (\d+)m;", conf)
    assert body and int(body.group(1)) >= 2048
    read = re.search(r"proxy_read_timeout (\d+)s;", conf)
    from reviewapp import gunicorn_conf

    assert read and int(read.group(1)) >= gunicorn_conf.timeout


def test_readme_shows_how_to_run_several_web_and_worker_replicas():
    readme = (ROOT / "README.md").read_text()
    assert "docker compose up -d --scale web=3 --scale worker=4" in readme
    assert "deploy/nginx.conf" in readme
    assert "DJANGO_TRUSTED_PROXY_COUNT=2" in readme


def test_compose_keeps_the_database_and_uploads_in_named_volumes():
    compose = _compose()
    assert {"pgdata", "media"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    for name in ("web", "worker"):
        assert "media:/data/media" in compose["services"][name]["volumes"]
        assert compose["services"][name]["environment"]["MEDIA_ROOT"] == "/data/media"


def test_compose_gives_the_database_as_pieces_so_no_password_needs_quoting():
    compose = _compose()
    for name in ("migrate", "web", "worker", "beat"):
        env = compose["services"][name]["environment"]
        assert env["DATABASE_URL"] == ""  # a DATABASE_URL left in .env must not win
        assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("postgres", "5432")
        assert (
            env["POSTGRES_USER"] == compose["services"]["postgres"]["environment"]["POSTGRES_USER"]
        )
        assert env["POSTGRES_DB"] == compose["services"]["postgres"]["environment"]["POSTGRES_DB"]
        assert env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
        assert env["REDIS_URL"].startswith("redis://redis:6379")
        assert env["DJANGO_DEBUG"] == "0"


def test_env_example_lists_every_variable_the_settings_read():
    source = (ROOT / "reviewapp" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', source))
    listed = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "found no variables in settings.py; the pattern above is out of date"
    assert read <= listed, f"missing from .env.example: {sorted(read - listed)}"


def _dockerignore_rules():
    """.dockerignore as Docker reads it: patterns from the context's root, `**` for any depth,
    `!` to take back, the last matching rule deciding; a match on a folder covers its content."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negate, re.compile(regex)))
    return rules


def _ignored(path, rules):
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for negate, regex in rules:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        ".venv/bin/python",
        "db.sqlite3",
        "media/imports/1/embase.ris",
        "media/fulltexts/3/paper.pdf",
        ".git",
        ".git/HEAD",
        "staticfiles/css/app.css",
        "bench/out/soak.json",
        "reviewapp/__pycache__/settings.cpython-311.pyc",
        "reviewapp/core/__pycache__/views.cpython-311.pyc",
        ".pytest_cache/v/cache/nodeids",
        ".ruff_cache/CACHEDIR.TAG",
        ".mypy_cache/3.11/cache.db",
        ".hypothesis/examples/0a1b",
        "test-artifacts/crawl.png",
        "celerybeat-schedule",
    ],
)
def test_the_build_context_leaves_out_secrets_and_local_state(path):
    assert _ignored(path, _dockerignore_rules()), f"{path} would be copied into the image"


def test_the_build_context_keeps_everything_the_image_runs():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    needed = [
        path
        for path in tracked
        if path.startswith(("reviewapp/", "templates/", "static/"))
        or path in {"manage.py", "requirements.txt"}
    ]
    assert "reviewapp/settings.py" in needed
    rules = _dockerignore_rules()
    assert [path for path in needed if _ignored(path, rules)] == []


def _locked(path):
    """{name: (version, hashes)} of a pip-compile lock."""
    packages = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", (ROOT / path).read_text()):
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if match:
            name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
            packages[name] = (match.group(2), re.findall(r"--hash=sha256:[0-9a-f]{64}", block))
    return packages


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_every_locked_package_is_pinned_with_hashes(lock):
    text = (ROOT / lock).read_text()
    requirement_lines = [
        line for line in text.splitlines() if line and not line.startswith((" ", "#"))
    ]
    packages = _locked(lock)
    assert len(requirement_lines) == len(packages) > 20
    assert all(hashes for _, hashes in packages.values())
    assert "pip" in packages  # the installer too


def test_the_development_lock_names_the_runtime_versions():
    runtime, development = _locked("requirements.txt"), _locked("requirements-dev.txt")
    assert {name: runtime[name][0] for name in runtime} == {
        name: development[name][0] for name in runtime
    }


@pytest.mark.parametrize("source", ["requirements.in", "requirements-dev.in"])
def test_top_level_requirements_are_pinned_and_locked(source):
    lock = _locked(source.replace(".in", ".txt"))
    for line in (ROOT / source).read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[a-z,]+\])?==(\S+)", line)
        assert match, f"{source}: {line!r} is not pinned with =="
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        assert lock[name][0] == match.group(2), f"{name} differs between {source} and its lock"


def test_installs_come_only_from_the_locks_with_hashes():
    for path in ("Makefile", "Dockerfile", ".ci/run"):
        text = (ROOT / path).read_text()
        for line in re.findall(r"^.*pip install.*$", text, re.M):
            assert "--require-hashes" in line, f"{path}: {line.strip()}"
    assert "--require-hashes" in (ROOT / "Dockerfile").read_text()
    assert "$(INSTALL) -r requirements-dev.txt" in (ROOT / "Makefile").read_text()


def test_a_mailpit_service_catches_mail_for_trying_it_and_stays_off_by_default():
    services = _compose()["services"]
    mailpit = services["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit:v")
    # Opt-in: a production `docker compose up` never starts a mail trap in front of real mail.
    assert mailpit["profiles"] == ["mail"]
    assert "1025" in mailpit["expose"]
    # Its web page, which shows every message, only on the host's loopback.
    assert all(port.startswith("127.0.0.1:") for port in mailpit["ports"])
    assert "healthcheck" in mailpit
    example = (ROOT / ".env.example").read_text()
    assert "EMAIL_URL=smtp://mailpit:1025" in example
    readme = (ROOT / "README.md").read_text()
    assert "--profile mail" in readme and "EMAIL_URL" in readme
