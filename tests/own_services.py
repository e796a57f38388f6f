"""Services a fault test may break: a Redis and a gunicorn of its own, on free ports.

The machine's Redis (6379) and PostgreSQL are shared with other test runs and are never stopped;
a test that needs Redis to die starts its own here, and a gunicorn pointed at it, which is how
production serves the app (reviewapp/gunicorn_conf.py, DEBUG off).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"
SECRET_KEY = "a-secret-key-for-tests-only-that-is-long-enough-for-production"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, *, process: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"{what} exited early:\n{output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {seconds} s")


class RedisServer:
    """A redis-server of the test's own, which the test may kill and start again on its port.

    `persistent` keeps the data across a kill (append-only file, synced on every write), as a
    production Redis with persistence would; otherwise a restart starts empty.
    """

    def __init__(self, directory: Path, *, persistent: bool = False):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH")
        self.binary = binary
        self.directory = directory
        self.persistent = persistent
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
        ]
        args += (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent
            else ["--appendonly", "no"]
        )
        # Its log goes to a file in its directory: a pipe nobody reads would fill up.
        with open(self.directory / "redis.log", "a") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        _wait_for_port(self.port, process=self.process, what="redis-server", seconds=20)

    def kill(self) -> None:
        """SIGKILL: no goodbye to its clients, as when a container or a machine dies."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def database_url(connection) -> str:
    db = connection.settings_dict
    user = urllib.parse.quote(db.get("USER") or "postgres", safe="")
    password = f":{urllib.parse.quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def collect_static(static_root: Path) -> Path:
    """Production serves hashed static files (whitenoise's manifest): collect them once."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "STATIC_ROOT": str(static_root),
        },
        check=True,
    )
    return static_root


class Gunicorn:
    """gunicorn with reviewapp's own config, on a free port, against the test database."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str | None,
        media_root: str,
        static_root: str,
        workers: int = 1,
    ):
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            # Plain HTTP here; the HTTPS redirect is tested on its own.
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "MEDIA_ROOT": media_root,
            "STATIC_ROOT": static_root,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
        }
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        else:
            self.env.pop("REDIS_URL", None)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:reviewapp.gunicorn_conf",
                "reviewapp.wsgi",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _wait_for_port(self.port, process=self.process, what="gunicorn")

    def stop(self) -> str:
        """Stop gunicorn; return what it logged."""
        if self.process is None:
            return ""
        self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        self.process = None
        return output or ""


def app_server(
    tmp_path, media_root, static_root, *, persistent: bool = False
) -> tuple[RedisServer, Gunicorn]:
    """A Redis of the test's own and a gunicorn of one process (two threads) pointed at it, both
    started; one process, so a request lands where an earlier one left its state."""
    from django.db import connection

    own_redis = RedisServer(tmp_path, persistent=persistent)
    own_redis.start()
    web = Gunicorn(
        database_url=database_url(connection),
        redis_url=own_redis.url,
        media_root=str(media_root),
        static_root=str(static_root),
        workers=1,
    )
    web.start()
    return own_redis, web


class Browser:
    """A minimal HTTP client with its own cookies, like one browser talking to gunicorn.

    Secure cookies are sent over plain HTTP here: production cookies are Secure, this test server
    is HTTP, and what is tested is the server, not the cookie policy.
    """

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | None = None, timeout: float = 30):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Host": "127.0.0.1"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.monotonic()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read().decode("utf-8", "replace")
        response.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        connection.close()
        response.text = content  # type: ignore[attr-defined]
        return response

    def get(self, path: str):
        return self.request("GET", path)

    def login(self, username: str, password: str):
        """Log in through the login form, as a person would; return the response to the POST."""
        form = self.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token, f"no CSRF token on the login page (status {form.status})"
        return self.request(
            "POST",
            "/accounts/login/",
            {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)},
        )
