"""deploy/nginx.conf, the proxy service of docker-compose.yml, run by a real nginx in front of two
gunicorn instances: it balances requests across every address `web` resolves to and skips a
replica that is down (issue 13, item 8).

No Docker engine runs here, so only what exists inside compose's network is stood in for: Docker's
DNS (127.0.0.11) by a small DNS server of the test's own that answers `web` with two loopback
addresses, one gunicorn on each (same port, as two replicas in their containers), and the
published port by a free one. Everything else in the file is used as it is.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from tests.own_services import ROOT, Gunicorn, database_url, free_port

pytestmark = pytest.mark.services

REPLICAS = ("127.0.0.2", "127.0.0.3")


class FakeDockerDns:
    """Answers every A query with the replicas' addresses, as Docker's DNS answers a scaled
    service's name; counts the queries."""

    def __init__(self, addresses: tuple[str, ...]):
        self.addresses = addresses
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                query, client = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            # The question: labels up to a zero byte, then type and class (RFC 1035, 4.1.2).
            end = query.index(b"\0", 12) + 5
            labels, i = [], 12
            while query[i]:
                labels.append(query[i + 1 : i + 1 + query[i]].decode())
                i += query[i] + 1
            self.queries.append(".".join(labels))
            qtype = struct.unpack("!H", query[end - 4 : end - 2])[0]
            answers = self.addresses if qtype == 1 else ()
            reply = query[:2] + struct.pack("!HHHHH", 0x8180, 1, len(answers), 0, 0)
            reply += query[12:end]
            for address in answers:
                # A pointer to the question's name, type A, class IN, TTL 10 s, four bytes.
                reply += struct.pack("!HHHIH", 0xC00C, 1, 1, 10, 4) + socket.inet_aton(address)
            self.sock.sendto(reply, client)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


def _wait_for(host: str, port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what} exited:\n{process.stdout.read()}"
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on {host}:{port}")


def _replica(address: str, port: int, media_root, static_root) -> Gunicorn:
    web = Gunicorn(
        database_url=database_url(connection),
        redis_url=settings.REDIS_URL,
        media_root=str(media_root),
        static_root=str(static_root),
        workers=1,
    )
    web.port = port
    web.env["GUNICORN_BIND"] = f"{address}:{port}"
    # Its access log, to count the requests it answered.
    web.env["GUNICORN_CMD_ARGS"] = "--access-logfile -"
    web.process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:reviewapp.gunicorn_conf",
            "reviewapp.wsgi",
        ],  # fmt: skip
        cwd=ROOT,
        env=web.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _wait_for(address, port, web.process, f"gunicorn on {address}")
    return web


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Host": "127.0.0.1"})
    status = conn.getresponse().status
    conn.close()
    return status


@pytest.mark.django_db(transaction=True)
def test_the_compose_proxy_balances_across_web_replicas_and_skips_one_that_is_down(
    tmp_path, media_root, static_root
):
    nginx = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if nginx is None:
        pytest.skip("needs nginx on PATH to run deploy/nginx.conf (the compose proxy's image)")
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs DATABASE_URL (PostgreSQL) and REDIS_URL: the replicas share them")

    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    web_port, proxy_port = free_port(), free_port()
    with FakeDockerDns(REPLICAS) as dns:
        replaced = {
            "resolver 127.0.0.11 ": f"resolver 127.0.0.1:{dns.port} ",
            "set $web_replicas http://web:8000;": f"set $web_replicas http://web:{web_port};",
            "listen 8000;": f"listen 127.0.0.1:{proxy_port};",
        }
        for compose_value, here in replaced.items():
            assert compose_value in conf
            conf = conf.replace(compose_value, here)
        (tmp_path / "default.conf").write_text(conf)
        (tmp_path / "nginx.conf").write_text(
            f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\ndaemon off;\n"
            "events {}\n"
            f"http {{ access_log off; client_body_temp_path {tmp_path}/body; "
            f"proxy_temp_path {tmp_path}/proxy; proxy_max_temp_file_size 0; "
            f"include {tmp_path}/default.conf; }}\n"
        )
        replicas = [_replica(a, web_port, media_root, static_root) for a in REPLICAS]
        proxy = subprocess.Popen(
            [nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        stopped_log = ""
        try:
            _wait_for("127.0.0.1", proxy_port, proxy, "nginx")
            assert _get(proxy_port, "/proxy/health") == 200
            statuses = [_get(proxy_port, "/accounts/login/") for _ in range(20)]
            assert statuses == [200] * 20
            assert "web" in dns.queries  # resolved at run time, through the resolver

            # One replica goes away: its share goes to the other, no request fails.
            stopped_log = replicas[1].stop()
            statuses = [_get(proxy_port, "/accounts/login/") for _ in range(10)]
            assert statuses == [200] * 10
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)
            logs = [replicas[0].stop(), stopped_log or replicas[1].stop()]
    served = [log.count('"GET /accounts/login/ HTTP/1.') for log in logs]
    # Round robin over the two addresses: both served the first twenty, about evenly; the
    # remaining replica served all ten after the other stopped.
    first_a, first_b = served[0] - 10, served[1]
    assert first_a + first_b == 20, served
    assert min(first_a, first_b) >= 5, served
