"""The header every review page shares: its tabs, the one marked current, the ones a role does not
get; the refusal (403) of every app in the same layout with the review's header and a way back;
the favicon."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse

from reviewapp.extraction.models import ExtractionForm
from reviewapp.reviews.models import Membership

TAB = re.compile(r'<nav class="tabs".*?</nav>', re.S)


def _tabs(html: str) -> list[str]:
    nav = TAB.search(html)
    assert nav, "no tabs in the header"
    return re.findall(r">([^<]+)</a>", nav.group(0))


def _current(html: str) -> list[str]:
    nav = TAB.search(html)
    assert nav
    return re.findall(r'aria-current="page">([^<]+)</a>', nav.group(0))


def test_the_owner_sees_every_section_and_the_current_one_marked(client, owner, review):
    client.force_login(owner)
    slug = review.slug
    cases = {
        reverse("reviews:review-detail", args=[slug]): "Overview",
        reverse("literature:source-list", args=[slug]): "Sources",
        reverse("literature:search-create", args=[slug]): "Sources",
        reverse("literature:record-list", args=[slug]): "Records",
        reverse("literature:duplicate-list", args=[slug]): "Duplicates",
        reverse("screening:screen", args=[slug, "ta"]): "Titles &amp; abstracts",
        reverse("screening:conflict-list", args=[slug, "ft"]): "Full text",
        reverse("extraction:form-list", args=[slug]): "Extraction",
        reverse("synthesis:analysis-list", args=[slug]): "Analyses",
        reverse("reporting:prisma-detail", args=[slug]): "PRISMA",
        reverse("extraction:download-list", args=[slug]): "Downloads",
        reverse("reviews:member-list", args=[slug]): "Team",
        reverse("reviews:review-settings", args=[slug]): "Settings",
        reverse("screening:stage-settings", args=[slug]): "Settings",
    }
    for url, tab in cases.items():
        html = client.get(url).content.decode()
        assert len(_tabs(html)) == 12, url
        assert _current(html) == [tab], url


def test_each_role_is_offered_only_the_sections_it_may_open(
    client, review, review_admin, reviewer, analyst
):
    url = reverse("reviews:review-detail", args=[review.slug])
    offered = {}
    for who in (review_admin, reviewer, analyst):
        client.force_login(who)
        offered[who.username] = _tabs(client.get(url).content.decode())
    assert "Settings" in offered[review_admin.username]
    assert "Settings" not in offered[reviewer.username]
    assert "Titles &amp; abstracts" in offered[reviewer.username]
    assert "Titles &amp; abstracts" not in offered[analyst.username]
    assert "Full text" not in offered[analyst.username]
    assert "Settings" not in offered[analyst.username]


def _refused(client, user, method, url):
    client.force_login(user)
    response = getattr(client, method)(url)
    assert response.status_code == 403, url
    html = response.content.decode()
    assert "css/app.css" in html and 'class="topbar"' in html, url
    assert "403 Forbidden" not in html
    assert "Go to your reviews" in html  # the way back
    return html


@pytest.mark.parametrize(
    "who, method, name, args",
    [
        ("reviewer", "get", "reviews:review-settings", []),
        ("reviewer", "post", "reviews:member-list", []),
        ("analyst", "get", "literature:search-create", []),
        ("analyst", "get", "screening:screen", ["ta"]),
        ("reviewer", "post", "synthesis:analysis-list", []),
        ("reviewer", "post", "reporting:prisma-detail", []),
        ("reviewer", "get", "extraction:form-edit", ["FORM"]),
    ],
)
def test_a_refusal_in_every_app_keeps_the_reviews_header_and_a_way_back(
    client, review, reviewer, analyst, who, method, name, args
):
    form = ExtractionForm.objects.create(review=review, name="Outcomes")
    args = [form.pk if a == "FORM" else a for a in args]
    user = {"reviewer": reviewer, "analyst": analyst}[who]
    html = _refused(client, user, method, reverse(name, args=[review.slug, *args]))
    # The review's header stays: the member can carry on from the tabs.
    assert review.title[:20] in html
    assert _tabs(html)
    role = Membership.objects.get(review=review, user=user).get_role_display().lower()
    assert (
        f"Your role in this review is {role}" in html
        or "Only owners and admins" in html
        or ("does not allow" in html)
    )


def test_a_form_sent_without_its_token_gets_the_layout_and_a_way_back(owner, review):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(reverse("reviews:review-settings", args=[review.slug]), {})
    assert response.status_code == 403
    html = response.content.decode()
    assert 'class="topbar"' in html and "This form could not be sent" in html
    assert "Go to your reviews" in html
    assert owner.username in html  # still shown as logged in: rendered with the request


def test_a_browser_without_the_security_cookie_is_told_to_allow_cookies(owner, review):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.cookies.pop("csrftoken", None)
    response = client.post(reverse("reviews:review-settings", args=[review.slug]), {})
    assert response.status_code == 403
    assert "did not send this site's security cookie" in response.content.decode()


def test_the_favicon_is_linked_and_slash_favicon_ico_leads_to_it(client, owner):
    client.force_login(owner)
    html = client.get(reverse("reviews:review-list")).content.decode()
    assert re.search(r'<link rel="icon" href="[^"]*favicon\.svg"', html)
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == static("favicon.ico")
    # What whitenoise serves there (collected in production): a real ICO file.
    with open(finders.find("favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"


def test_messages_after_a_posted_form_are_shown_at_the_top_of_the_page(client, owner):
    client.force_login(owner)
    response = client.post(reverse("reviews:review-create"), {"title": "Aspirin"}, follow=True)
    html = response.content.decode()
    main = html.index('<main id="main"')
    message = html.index('class="message message-success"')
    assert main < message < html.index("<h1", main)
    assert 'role="status"' in html[main:message]
