"""Every URL of the URLconf, as every role, on the demo review and on a review in every state.

Fails on any 5xx, on an error page without the site's layout, and on any response (HTML, JSON,
CSV, XLSX, ZIP) or background export file that shows a blinding marker to a role THE RULE hides it
from (see tests/core/crawl_world.py). All failures are reported together, one line each.

Which URLs: every pattern of the URLconf, read from it, so a new page is crawled without touching
this file. Its parameters come from the world's real objects (``World.values``), from the value
lists in tests/url_kwargs.py (``CRAWL_CHOICES``), else from ``URL_KWARGS`` there (which every
review-scoped page needs already for tests/core/test_access.py); a parameter found nowhere fails
the test naming the URL. Each URL gets a GET and an empty POST (views must answer it with a
message or a 405, never a 5xx; downloads, which answer GET with a file, are not POSTed), and, for
members of the every-state review, the same again as htmx asks (for views that answer htmx with a
fragment). The downloads page is also POSTed every download it offers.

The JSON API is crawled like the pages: it is our code and a reader of votes and extractions, so
it follows the blinding rule too. The Django admin is for site operators, not review members: the
crawl checks that it turns every review role away, and opens every model's list as a superuser with
the world's data in it; markers are not checked there.

Every request runs in a savepoint rolled back afterwards, so a POST cannot change what the next
request sees, and the markers' expected visibility holds for the whole crawl.
"""

from __future__ import annotations

import functools
import inspect
import io
import itertools
import json
import logging
import re
import traceback
import zipfile
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from reviewapp.core.services import worker_heartbeat_record
from reviewapp.extraction.models import ExportJob
from tests.core import error_urls
from tests.core.crawl_world import ROLES, World, demo_world, download_choices, every_state_world
from tests.factories import UserFactory
from tests.url_kwargs import CRAWL_CHOICES, URL_KWARGS

STYLESHEET = "css/app.css"


@dataclass(frozen=True)
class Route:
    name: str
    params: tuple[str, ...]
    view: object = None


def routes() -> list[Route]:
    """Every named URL of the URLconf except the admin's, with its parameters and view."""
    return _routes(get_resolver())


@functools.cache
def _routes(resolver) -> list[Route]:
    found: list[Route] = []

    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace or namespace
                if ns == "admin":
                    continue
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                name = f"{namespace}:{p.name}" if namespace and p.name else p.name
                # An unnamed URL cannot be reversed; its name is what the failure shows.
                found.append(
                    Route(
                        name or f"<unnamed {route}>",
                        tuple(re.findall(r"<(?:\w+:)?(\w+)>", route)),
                        p.callback,
                    )
                )

    walk(resolver.url_patterns)
    return found


def _values(world: World, role: str, param: str):
    if param in world.role_values:
        # e.g. an export job opens only for the member who asked for it
        by_role = world.role_values[param]
        return by_role.get(role) or by_role.get("other") or by_role["owner"]
    if param in world.values:
        return world.values[param]
    if param in CRAWL_CHOICES:
        return CRAWL_CHOICES[param]()
    if param in URL_KWARGS:
        return [URL_KWARGS[param](world.review, world.users["owner"])]
    return None


@functools.cache
def answers_htmx(name: str) -> bool:
    """Whether the view behind a URL name answers htmx requests with a fragment of its own."""
    view = next(r.view for r in routes() if r.name == name)
    while hasattr(view, "__wrapped__"):
        view = view.__wrapped__
    try:
        source = inspect.getsource(view)
    except (OSError, TypeError):
        return False
    return "render_page_or_partial" in source or "is_htmx" in source


def urls_for(world: World, role: str, problems: list[str]) -> list[tuple[str, str]]:
    """(url name, address) for every route, every combination of its parameters' values."""
    out = []
    for route in routes():
        if route.name.startswith("<unnamed"):
            problems.append(f"{route.name}: give the URL a name so the crawl can reverse it")
            continue
        choices = []
        for param in route.params:
            values = _values(world, role, param)
            if not values:
                problems.append(
                    f"{route.name}: no value for <{param}>; add one to tests/url_kwargs.py "
                    "(URL_KWARGS) or to the crawl world (tests/core/crawl_world.py)"
                )
                break
            choices.append(values)
        else:
            for combo in itertools.product(*choices):
                kwargs = dict(zip(route.params, combo, strict=True))
                out.append((route.name, reverse(route.name, kwargs=kwargs)))
    return out


def post_payloads(world: World, name: str) -> list[dict]:
    """An empty POST for every URL; the downloads page also gets every download it offers."""
    if name == "extraction:download":
        return [{}] + [
            {"kind": kind, "form": form_id or "", "which": which}
            for kind, form_id, which in download_choices(world)
        ]
    return [{}]


def body_text(raw: bytes, content_type: str) -> str:
    """What a person (or program) reading a response or file would see, as text."""
    if raw[:2] == b"PK":  # XLSX and the metafor bundle: zip archives of text files
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                return "\n".join(
                    archive.read(n).decode("utf-8", "replace") for n in archive.namelist()
                )
        except zipfile.BadZipFile:
            pass
    if content_type.startswith(("image/png", "application/pdf")):
        return raw.decode("latin-1")
    return raw.decode("utf-8", "replace")


def _is_file(response) -> bool:
    content_type = response.get("Content-Type", "")
    return response.status_code == 200 and not content_type.startswith("text/html")


def _error(response) -> str:
    exc = getattr(response, "exc_info", None)
    if not exc:
        return ""
    frames = traceback.extract_tb(exc[2])
    # The deepest frame in our code says where to look; Django's own frames rarely do.
    ours = [
        f for f in frames if "/reviewapp/" in f.filename and "/site-packages/" not in f.filename
    ]
    frame = (ours or frames)[-1]
    return f" {exc[0].__name__}: {exc[1]} ({frame.filename}:{frame.lineno})"


class Crawl:
    def __init__(self, world: World):
        self.world = world
        self.failures: list[str] = []
        self.requests = 0
        # Roles each marker was shown to, leak or not: a marker nobody ever sees tests nothing.
        self.seen: dict[str, set[str]] = {m.text: set() for m in world.markers}

    def request(self, client, role, method, name, url, data=None, htmx=False):
        headers = {"HX-Request": "true"} if htmx else {}
        with transaction.atomic():
            if url.startswith("/healthz"):
                # The deployment's worker is up (see _worker_alive): it beats every minute, so a
                # crawl longer than the heartbeat's tolerance must not find it stale.
                worker_heartbeat_record(hostname="celery@crawl-worker")
            response = getattr(client, method)(url, data or {}, headers=headers)
            # Streamed bodies (CSV downloads, files) are read inside the savepoint: their
            # generators query the database as they go.
            raw = b"".join(response.streaming_content) if response.streaming else response.content
            text = body_text(raw, response.get("Content-Type", ""))
            transaction.set_rollback(True)
        # No response.close(): the test client has closed it (closing again would fire
        # request_finished, which closes the test's database connection).
        self.requests += 1
        self.check(role, method + (" (htmx)" if htmx else ""), name, url, data, response, text)
        if method == "get" and response.get("Content-Type", "").startswith("application/json"):
            # Follow the API's pages, so a marker on page 2 is seen too.
            try:
                next_url = json.loads(text).get("next") if text.startswith("{") else None
            except ValueError:
                next_url = None
            if next_url:
                self.request(client, role, method, name, next_url.split("testserver", 1)[-1])
        return response

    def check(self, role, method, name, url, data, response, text):
        where = f"{method.upper()} {url}{' ' + json.dumps(data) if data else ''} as {role} ({name})"
        status = response.status_code
        if status >= 500:
            self.failures.append(f"{status} {where}{_error(response)}")
        content_type = response.get("Content-Type", "")
        styled = STYLESHEET in text and 'class="topbar"' in text
        # htmx gets a fragment (e.g. a form with its errors) to put inside the page it is on; a
        # 405 to the wrong method is a page like any other error (core.middleware).
        page = not method.endswith("(htmx)") and (text.strip() or status == 405)
        if status >= 400 and content_type.startswith("text/html") and page and not styled:
            self.failures.append(f"unstyled {status} page: {where}")
        for marker in self.world.markers:
            if marker.text in text:
                self.seen[marker.text].add(role)
                if role in marker.hidden_from and name not in marker.named_on:
                    self.failures.append(
                        f"blinding leak: {marker.what} ({marker.text}) shown to {where}"
                    )

    def run(self):
        problems: list[str] = []
        for role in ROLES:
            user = self.world.users[role]
            client = Client(raise_request_exception=False)
            if user is not None:
                client.force_login(user)
            # htmx asks members' pages for fragments (panels, statuses, forms), rendered from
            # the same data; anonymous users and outsiders never get past the membership check.
            htmx_too = self.world.htmx and role not in ("anonymous", "outsider")
            for name, url in urls_for(self.world, role, problems):
                asks = [("get", {}, False)] + [
                    ("post", d, False) for d in post_payloads(self.world, name)
                ]
                if htmx_too and answers_htmx(name):
                    asks += [("get", {}, True), ("post", {}, True)]
                for method, data, htmx in asks:
                    response = self.request(client, role, method, name, url, data, htmx=htmx)
                    if user is not None and client.session.get("_auth_user_id") != str(user.pk):
                        client.force_login(user)  # the empty POST to logout logged them out
                    if method == "get" and not htmx and _is_file(response):
                        break  # a download: its view has nothing to POST to
        self.failures.extend(sorted(set(problems)))

    def export_files(self):
        """The files the worker wrote (tests/core/crawl_world.background_exports), read back."""
        for role, job_ids in self.world.exports.items():
            for job in ExportJob.objects.filter(pk__in=job_ids):
                where = f"background export {job.kind}/{job.which} (job {job.pk}) for {role}"
                if job.status != "done":
                    self.failures.append(f"{where} ended {job.status}: {job.error}")
                    continue
                with job.file.open("rb") as fh:
                    text = body_text(fh.read(), "")
                for marker in self.world.markers:
                    if role in marker.hidden_from and marker.text in text:
                        self.failures.append(
                            f"blinding leak: {marker.what} ({marker.text}) in {where}"
                        )

    def admin(self):
        """The admin refuses every review role; a superuser opens every model's list, with the
        world's data in it (tests/core/test_admin.py opens them empty)."""
        from django.contrib import admin as django_admin

        for role in ROLES:
            client = Client(raise_request_exception=False)
            if self.world.users[role] is not None:
                client.force_login(self.world.users[role])
            response = self.request(client, role, "get", "admin:index", reverse("admin:index"))
            if response.status_code != 302:
                self.failures.append(f"admin index answered {response.status_code} to {role}")
        client = Client(raise_request_exception=False)
        client.force_login(
            get_user_model().objects.filter(is_superuser=True).first()
            or UserFactory(username="crawl-superuser", is_staff=True, is_superuser=True)
        )
        for model in django_admin.site._registry:
            meta = model._meta
            base = f"admin:{meta.app_label}_{meta.model_name}"
            self.request(client, "superuser", "get", base, reverse(f"{base}_changelist"))
        for obj in self.world.marker_objects:
            meta = obj._meta
            base = f"admin:{meta.app_label}_{meta.model_name}"
            self.request(client, "superuser", "get", base, reverse(f"{base}_change", args=[obj.pk]))


def _report(crawl: Crawl) -> str:
    return f"{len(crawl.failures)} problem(s) in {crawl.requests} requests:\n" + "\n".join(
        crawl.failures
    )


@pytest.fixture(autouse=True)
def _worker_alive(db):
    """A deployment whose worker is up: /healthz then answers 200, and any 5xx is a fault."""
    worker_heartbeat_record(hostname="celery@crawl-worker")


@pytest.fixture(autouse=True)
def _quiet_refusals():
    """Django logs each 403 and 404 with its traceback; the crawl makes hundreds on purpose."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


def test_every_url_as_every_role_on_a_review_in_every_state(db):
    world = every_state_world(UserFactory(username="crawl-outsider"))
    # The world is built so that every member but the analyst has something due on each marker:
    # the owner and the admin included, who would otherwise see everything as adjudicators.
    everyone_but_the_analyst = {"anonymous", "outsider", "reviewer", "admin", "owner"}
    assert {m.what: m.hidden_from for m in world.markers} == {
        "vote note, waiting record": everyone_but_the_analyst,
        "record note, waiting record": everyone_but_the_analyst,
        "vote without a note (its author's name), waiting record": everyone_but_the_analyst,
        "unsubmitted extraction": everyone_but_the_analyst,
        "unsubmitted RoB 2 assessment": everyone_but_the_analyst,
        "annotation linked to an unsubmitted extraction": everyone_but_the_analyst,
    }
    world.htmx = True
    crawl = Crawl(world)
    crawl.run()
    crawl.export_files()
    crawl.admin()
    # Each marker must show up somewhere (at least on its row's admin page), or the search for it
    # proves nothing.
    crawl.failures += [
        f"marker {text} found in no response at all: the crawl does not test it"
        for text, roles in crawl.seen.items()
        if not roles
    ]
    assert not crawl.failures, _report(crawl)


def test_every_url_as_every_role_on_the_demo_review(db):
    world = demo_world(UserFactory(username="crawl-outsider"))
    crawl = Crawl(world)
    crawl.run()
    assert not crawl.failures, _report(crawl)


@pytest.mark.urls("tests.core.error_urls")
def test_a_url_whose_parameter_the_crawl_cannot_fill_fails_it_by_name(review, owner):
    world = World(review=review, users={"owner": owner})
    problems: list[str] = []
    crawled = urls_for(world, "owner", problems)
    assert problems == [
        "gizmo-detail: no value for <gizmo_id>; add one to tests/url_kwargs.py (URL_KWARGS) "
        "or to the crawl world (tests/core/crawl_world.py)"
    ]
    assert ("reviews:review-detail", f"/reviews/{review.slug}/") in crawled


FAILS_LINE = inspect.getsourcelines(error_urls.fails)[1] + 1  # its raise


@pytest.mark.urls("tests.core.error_urls")
def test_the_crawl_reports_every_server_error_and_unstyled_page_together(review, owner):
    crawl = Crawl(World(review=review, users={"owner": owner}))
    client = Client(raise_request_exception=False)
    for url in ("/fails/", "/bare-forbidden/", "/fails/"):
        crawl.request(client, "owner", "get", "test", url)
    assert crawl.failures == [
        "500 GET /fails/ as owner (test) RuntimeError: a fault in a view "
        f"({error_urls.__file__}:{FAILS_LINE})",
        "unstyled 403 page: GET /bare-forbidden/ as owner (test)",
        "500 GET /fails/ as owner (test) RuntimeError: a fault in a view "
        f"({error_urls.__file__}:{FAILS_LINE})",
    ]
