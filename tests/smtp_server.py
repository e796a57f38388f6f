"""A real SMTP server (aiosmtpd) in the test process, for the app and its Celery worker to send to.

One server for the session; the worker the suite starts (tests/celery_worker.py) gets its address
as EMAIL_URL. Tests find their messages by recipient, so they never see each other's, and can make
the server answer "try again later" to the next N messages to test retries.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from email.message import EmailMessage

import pytest

from tests.own_services import free_port


class Inbox:
    """What the server received, and how it answers the next messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse_next = 0  # answer 451 to this many messages, then accept again
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return "451 4.3.0 Mailbox busy, try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address.lower() in m["X-Envelope-To"].lower()]

    def wait_for(self, address: str, count: int = 1, timeout: float = 60) -> list[EmailMessage]:
        """The messages to `address`, once at least `count` have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{count} message(s) to {address} did not arrive in {timeout}s")


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    assert part is not None, "a message without a body"
    return part.get_content()


def link_in(message: EmailMessage, pattern: str) -> str:
    """The path of the first link in the message whose path matches `pattern`."""
    for url in re.findall(r"https?://[^\s<>\"]+", text_of(message)):
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]
        if re.search(pattern, path):
            return path
    raise AssertionError(f"no link matching {pattern} in:\n{text_of(message)}")


@pytest.fixture(scope="session")
def smtp_server():
    """(inbox, port) of the session's SMTP server on 127.0.0.1."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def inbox(smtp_server, settings):
    """The session's SMTP server, with this process's mail sent to it (as production sends)."""
    inbox, port = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    inbox.refuse_next = 0
    yield inbox
    inbox.refuse_next = 0
