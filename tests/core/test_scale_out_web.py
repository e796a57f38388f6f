"""Two gunicorn instances (own ports, as on two machines) sharing one PostgreSQL and one Redis:
reviewers spread across both keep their sessions, leases and blinding hold, and every decision
acknowledged through either is stored exactly as sent (issue 13, item 8).

Each instance is reviewapp/gunicorn_conf.py with DEBUG off (tests/own_services.py), two worker
processes each, so a reviewer's requests land on four processes in turn. Reviewers log in once,
on instance A, and then alternate A and B request by request, as a load balancer without sticky
sessions would send them.
"""

from __future__ import annotations

import http.client
import random
import re
import threading
import time
import urllib.parse
import uuid

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection

from reviewapp.literature.models import Record
from reviewapp.screening.models import Decision, RecordVote
from tests.factories import MembershipFactory, RecordFactory, UserFactory
from tests.own_services import PASSWORD, Browser, Gunicorn, database_url

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

REVIEWERS = ("rita", "ravi", "rosa")
N_RECORDS = 24
SCREEN = "/reviews/natalizumab/screen/ta/"
HX = {"HX-Request": "true"}
CURRENT = re.compile(r'class="screen-current">\s*<div class="record-panel" data-record-id="(\d+)"')
PREFETCHED = re.compile(
    r'<template class="screen-prefetch">\s*<div class="record-panel" data-record-id="(\d+)"'
)
PANEL = re.compile(r'<div class="record-panel" data-record-id="(\d+)"')


class Reviewer(Browser):
    """One reviewer's browser: one session, its requests sent to the instances in turn."""

    def __init__(self, name: str, ports: list[int]):
        super().__init__(ports[0])
        self.name, self.ports, self.turn = name, ports, 0

    def next_port(self) -> int:
        self.turn += 1
        return self.ports[self.turn % len(self.ports)]

    def send(self, method: str, path: str, data: dict | None = None, *, port: int | None = None):
        """A request with htmx's header and the CSRF token, to the next instance in turn."""
        port = port or self.next_port()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Host": "127.0.0.1", **HX}
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        conn.close()
        return response.status, text


@pytest.fixture(scope="module")
def two_instances(django_db_setup, media_root, static_root):
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL: both instances share the database")
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: both instances share sessions and the cache through Redis")
    instances = [
        Gunicorn(
            database_url=database_url(connection),
            redis_url=settings.REDIS_URL,
            media_root=str(media_root),
            static_root=str(static_root),
            workers=2,
        )
        for _ in range(2)
    ]
    try:
        for instance in instances:
            instance.start()
        yield instances
    finally:
        logs = [instance.stop() for instance in instances]
        for log in logs:
            assert "Traceback" not in log, log


@pytest.fixture
def team(review, owner, settings):
    """Three reviewers on a dual, blinded review (the defaults) of N_RECORDS records, with
    passwords gunicorn checks (the production hasher)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    users = [MembershipFactory(review=review, user=UserFactory(username=n)).user for n in REVIEWERS]
    for user in users:
        user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
        user.save(update_fields=["password"])
    RecordFactory.create_batch(N_RECORDS, review=review)
    return users


def test_a_session_opened_on_one_instance_is_honoured_and_ended_on_the_other(two_instances, team):
    a, b = (instance.port for instance in two_instances)
    rita = Reviewer("rita", [a, b])
    assert rita.login("rita", PASSWORD).status == 302
    for port in (a, b, a, b):
        status, text = rita.send("GET", SCREEN, port=port)
        assert status == 200 and CURRENT.search(text), (port, status)
    # Logged out through B: A no longer knows the session either.
    form = rita.send("GET", "/accounts/logout/", port=b)
    assert form[0] in (200, 302, 405)
    status, _ = rita.send("POST", "/accounts/logout/", {}, port=b)
    assert status in (200, 302)
    status, _ = rita.send("GET", SCREEN, port=a)
    assert status == 302


def test_reviewers_spread_over_two_instances_keep_leases_blinding_and_every_decision(
    two_instances, team, review
):
    ports = [instance.port for instance in two_instances]
    reviewers = {name: Reviewer(name, ports) for name in REVIEWERS}
    for reviewer in reviewers.values():
        assert reviewer.login(reviewer.name, PASSWORD).status == 302

    lock = threading.Lock()
    holder: dict[int, str] = {}  # record id -> the reviewer it is handed to, undecided
    decided: dict[str, set[int]] = {name: set() for name in REVIEWERS}
    acknowledged: set[tuple[str, int, str, str, str]] = set()
    violations: list[str] = []
    errors: list[str] = []
    prefetched_seen = []
    stop = threading.Event()

    def served(name: str, text: str) -> int | None:
        """Check a screening answer to `name`; return the record now on their screen."""
        current = CURRENT.search(text)
        prefetched = PREFETCHED.search(text)
        ids = [int(m.group(1)) for m in (current, prefetched) if m]
        if prefetched:
            prefetched_seen.append(1)
        # Blinding: every panel of a record this reviewer has not voted on shows no other vote.
        chunks = PANEL.split(text)[1:]
        with lock:
            for record_id, chunk in zip(chunks[::2], chunks[1::2], strict=True):
                if int(record_id) in decided[name]:
                    continue
                for other in REVIEWERS:
                    if other != name and f"{other}: <strong" in chunk:
                        violations.append(f"blinding: {name} saw {other}'s vote on {record_id}")
            # Leases: a record handed to one reviewer is not handed to another until decided.
            for record_id in ids:
                if holder.get(record_id, name) != name:
                    violations.append(
                        f"lease: {record_id} handed to {name} while {holder[record_id]} holds it"
                    )
                holder[record_id] = name
        return int(current.group(1)) if current else None

    def work(name: str, seed: int) -> None:
        me = reviewers[name]
        rng = random.Random(seed)
        while not stop.is_set():
            status, text = me.send("GET", SCREEN)
            if status != 200:
                errors.append(f"{name}: GET {status}")
                continue
            record_id = served(name, text)
            if record_id is None:
                time.sleep(0.2)  # the rest may be with the others: wait for a second vote due
                continue
            value = rng.choice(["include", "exclude", "maybe"])
            note, token = f"note-{name}-on-{record_id}", str(uuid.uuid4())
            body = {
                "value": value,
                "note": note,
                "client_token": token,
                "csrfmiddlewaretoken": me.cookies["csrftoken"],
            }
            with lock:
                decided[name].add(record_id)
                if holder.get(record_id) == name:
                    del holder[record_id]
            path = f"{SCREEN}{record_id}/decide/"
            # One decision in four is sent again (a network retry) through the other instance.
            for _ in range(2 if rng.random() < 0.25 else 1):
                status, answer = me.send("POST", path, body)
                if status != 200:
                    errors.append(f"{name}: decide {record_id}: HTTP {status}")
                    break
                with lock:
                    acknowledged.add((name, record_id, value, note, token))
                served(name, answer)
            # Another page of the record through the other instance: its history, still blinded
            # for the records this reviewer has a vote due on (the one prefetched).
            prefetched = PREFETCHED.search(answer)
            if prefetched:
                other_id = int(prefetched.group(1))
                status, history = me.send("GET", f"{SCREEN}{other_id}/history/")
                with lock:
                    mine = other_id in decided[name]
                if status != 200:
                    errors.append(f"{name}: history {status}")
                elif not mine and any(f"note-{o}-on-" in history for o in REVIEWERS if o != name):
                    violations.append(f"blinding: {name} saw another's note on {other_id}")

    threads = [threading.Thread(target=work, args=(n, i)) for i, n in enumerate(REVIEWERS)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while RecordVote.objects.filter(record__review=review).count() < 2 * N_RECORDS:
            assert time.monotonic() < deadline, "the review was not screened within 60 s"
            assert not errors, errors
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(30)

    assert not errors, errors
    assert not violations, violations
    assert prefetched_seen, "no answer carried a prefetched record: the lease check saw half"
    # Dual screening: exactly two reviewers' votes on every record, never a third.
    votes = RecordVote.objects.filter(record__review=review)
    assert votes.count() == 2 * N_RECORDS
    assert all(
        votes.filter(record_id=r).count() == 2
        for r in Record.objects.filter(review=review).values_list("id", flat=True)
    )
    # Acknowledged = stored: one row per decision acknowledged (retries add none), as sent.
    stored = set(
        Decision.objects.filter(review=review).values_list(
            "reviewer__username", "record_id", "value", "note", "client_token"
        )
    )
    assert {(n, r, v, note, str(t)) for n, r, v, note, t in stored} == acknowledged
    # The blinding marks are real: once both votes are in, a voter sees the other's note.
    vote = votes.select_related("reviewer").first()
    partner = votes.exclude(pk=vote.pk).get(record_id=vote.record_id).reviewer.username
    viewer = reviewers[vote.reviewer.username]
    for port in ports:
        status, history = viewer.send("GET", f"{SCREEN}{vote.record_id}/history/", port=port)
        assert status == 200 and f"note-{partner}-on-{vote.record_id}" in history
