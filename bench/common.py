"""What the benches that serve the app through gunicorn share: the machine line, the production-like
environment, a free loopback port, a logged-in HTTP client, waiting for the server and stopping it.

Imported as `bench.common` (each bench puts the checkout's root on sys.path first), so that a bench
loaded as a sibling script (`import screening_bench`) and as `bench.screening_bench` share it.
"""

from __future__ import annotations

import http.client
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

BIN = Path(sys.executable).parent
PASSWORD = "bench-password-not-secret"  # bench/benchdb.py's, for every user


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1048576:.0f} GiB"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (nproc), {cpu}, {ram} RAM, Python {platform.python_version()}"


def server_env(
    *, static_root: Path, media_root: Path, allowed_hosts: str = "127.0.0.1,localhost", **extra: str
) -> dict[str, str]:
    """This process's environment with the production settings served over plain HTTP on the
    loopback (no SSL redirect, no HSTS), a fresh secret key, and `extra` on top."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reviewapp.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": allowed_hosts,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_HSTS_SECONDS": "0",
        "STATIC_ROOT": str(static_root),
        "MEDIA_ROOT": str(media_root),
        # A mail server that takes every message, as a real server has. The realistic database
        # holds mail waiting to be sent (invitations, notifications); with no SMTP server here
        # the worker tried it all again every two minutes, during the measured profiles (0.3
        # cores in one screening profile on 2026-12-07).
        "EMAIL_URL": os.environ.get("EMAIL_URL", "dummy://"),
        **extra,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_argv(port: int, *extra: str, bin_dir: Path = BIN) -> list[str]:
    """gunicorn with the production configuration on 127.0.0.1:`port`, then `extra` options."""
    return [
        str(bin_dir / "gunicorn"),
        "--config",
        "python:reviewapp.gunicorn_conf",
        "reviewapp.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        *extra,
    ]


class Client:
    """One member's browser: a session cookie, a CSRF token, one keep-alive connection.

    `request` answers (status, body bytes). A dropped keep-alive connection is opened again and
    the request sent once more, `attempts` times in all."""

    timeout: float = 120
    attempts: int = 2

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        for attempt in range(self.attempts):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt == self.attempts - 1:
                    raise
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, payload

    def login(self, username: str) -> None:
        status, *_ = self.request("GET", "/accounts/login/")
        assert status == 200, status
        status, *_ = self.request(
            "POST",
            "/accounts/login/",
            {
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.cookies["csrftoken"],
            },
        )
        assert status == 302, f"login of {username} answered {status}"


def wait_until_up(client_class, port: int, path: str, tries: int = 300) -> bool:
    """Ask `path` every 0.2 s, a new `client_class(port)` each time, until it answers 200 (True)
    or `tries` asks have failed (False)."""
    for _ in range(tries):
        try:
            if client_class(port).request("GET", path)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    """End a process started with start_new_session and its group: SIGTERM, SIGKILL after
    `timeout` seconds."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
