"""A member is never offered a link or a button their role cannot use.

For every role, starting from the review's main pages (the header's tabs), every link, form and
htmx control on the page is followed - links by GET, forms and hx-post by an empty POST in a
savepoint rolled back - and two levels further down; none may answer 403. (A 403 page is for an
address typed by hand, not for a link we showed.) One URL per shape is followed (record 12 and
record 13 are the same page), so the crawl stays short.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from reviewapp.demo.services import demo_load
from reviewapp.reviews.constants import Role
from tests.core.crawl_world import every_state_world
from tests.factories import MembershipFactory

DEPTH = 3
# Not review pages: the account's own links, and logging out (which would end the crawl).
SKIP = re.compile(r"^/(accounts/|admin/|static/|media/|api/)")


class _Controls(HTMLParser):
    """(method, url) of every link, form and htmx control in a page."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._form: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.found.append(("get", a["href"]))
        if tag == "form":
            self.found.append(((a.get("method") or "get").lower(), a.get("action") or ""))
        for verb in ("get", "post"):
            if a.get(f"hx-{verb}"):
                self.found.append((verb, a[f"hx-{verb}"]))
        if tag in ("button", "input") and a.get("formaction"):
            self.found.append(("post", a["formaction"]))


def _shape(method: str, url: str) -> str:
    parts = urlsplit(url)
    query = "&".join(sorted(k.split("=")[0] for k in parts.query.split("&") if k))
    path = re.sub(r"/\d+", "/N", parts.path)
    return f"{method} {path}?{query}"


def _controls(base: str, html: str) -> list[tuple[str, str]]:
    parser = _Controls()
    parser.feed(html)
    out = []
    for method, href in parser.found:
        url = urljoin(base, href)
        parts = urlsplit(url)
        if parts.scheme and parts.netloc not in ("", "testserver"):
            continue  # another site (a DOI, PubMed)
        if href.startswith("#") or SKIP.match(parts.path):
            continue
        out.append((method, parts.path + (f"?{parts.query}" if parts.query else "")))
    return out


def _crawl(client: Client, starts: list[str]) -> list[str]:
    refused = []
    seen: set[str] = set()
    frontier = [("get", url, "(start)") for url in starts]
    for _ in range(DEPTH):
        following = []
        for method, url, source in frontier:
            shape = _shape(method, url)
            if shape in seen:
                continue
            seen.add(shape)
            with transaction.atomic():
                response = getattr(client, method)(url)
                transaction.set_rollback(True)
            if response.status_code == 403:
                refused.append(f"{method.upper()} {url} (offered on {source})")
                continue
            if method == "get" and response.get("Content-Type", "").startswith("text/html"):
                html = response.content.decode()
                following += [(m, u, url) for m, u in _controls(url, html)]
        frontier = following
    return refused


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.REVIEWER, Role.ANALYST])
@pytest.mark.parametrize("world", ["demo", "every-state"])
def test_no_link_or_button_shown_to_a_member_answers_403(role, world, outsider):
    # The demo as a new user meets it; and a review in every state a team reaches (conflicts,
    # blinded votes and entries still due, uploaded full texts), built for the crawl test.
    review = demo_load().review if world == "demo" else every_state_world(outsider).review
    membership = review.memberships.filter(role=role).select_related("user").order_by("pk").first()
    if membership is None:  # the demo has no admin: one joins
        membership = MembershipFactory(review=review, role=role)
    client = Client()
    client.force_login(membership.user)
    slug = review.slug
    starts = [
        reverse("reviews:review-detail", args=[slug]),
        reverse("literature:source-list", args=[slug]),
        reverse("literature:record-list", args=[slug]),
        reverse("literature:duplicate-list", args=[slug]),
        reverse("extraction:form-list", args=[slug]),
        reverse("synthesis:analysis-list", args=[slug]),
        reverse("reporting:prisma-detail", args=[slug]),
        reverse("extraction:download-list", args=[slug]),
        reverse("reviews:member-list", args=[slug]),
    ]
    if membership.can("screen"):
        starts += [reverse("screening:screen", args=[slug, s]) for s in ("ta", "ft")]
    if membership.can("manage_review"):
        starts.append(reverse("reviews:review-settings", args=[slug]))
    refused = _crawl(client, starts)
    assert not refused, f"{role} is offered {len(refused)} refused controls:\n" + "\n".join(refused)
