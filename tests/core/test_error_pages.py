"""Error pages look like the rest of the site and say what to do next, never a bare "403 Forbidden"."""

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from reviewapp.extraction.models import ExtractionForm

STYLESHEET = "css/app.css"


def _styled(response) -> str:
    html = response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    assert STYLESHEET in html and 'class="topbar"' in html, html[:300]
    return html


def test_an_unknown_address_gets_the_styled_not_found_page(client, reviewer):
    client.force_login(reviewer)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = _styled(response)
    assert "Page not found" in html
    assert reviewer.username in html  # the request context is there: the user stays logged in


def test_an_outsider_gets_the_same_not_found_page_as_for_a_missing_review(client, outsider, review):
    client.force_login(outsider)
    response = client.get(reverse("reviews:review-detail", args=[review.slug]))
    assert response.status_code == 404
    assert "Page not found" in _styled(response)


def test_a_refused_action_says_which_role_the_member_has_and_what_it_does_not_allow(
    client, review, reviewer
):
    form = ExtractionForm.objects.create(review=review, name="Outcomes")
    client.force_login(reviewer)
    response = client.get(reverse("extraction:form-edit", args=[review.slug, form.pk]))
    assert response.status_code == 403
    html = _styled(response)
    assert "Your role in this review is reviewer, which does not allow this" in html
    assert "403 Forbidden" not in html


def test_a_request_for_another_host_gets_the_styled_bad_request_page(client, db):
    response = client.get("/", HTTP_HOST="attacker.example")
    assert response.status_code == 400
    assert "The request could not be understood" in _styled(response)


def test_a_form_sent_without_its_security_token_gets_the_styled_csrf_page(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(reverse("reviews:review-create"), {"title": "x"})
    assert response.status_code == 403
    html = _styled(response)
    assert "This form could not be sent" in html and "reload the page" in html


@pytest.mark.urls("tests.core.error_urls")
def test_a_fault_in_a_view_gets_the_styled_server_error_page(db):
    client = Client(raise_request_exception=False)
    response = client.get("/fails/")
    assert response.status_code == 500
    html = _styled(response)
    assert "Something went wrong on our side" in html
    assert "a fault in a view" not in html  # no internals shown


def test_the_server_error_page_renders_without_a_context_or_a_database():
    # No db fixture: pytest-django refuses any query, as a broken database would.
    html = render_to_string("500.html")
    assert STYLESHEET in html and "Something went wrong on our side" in html


def test_opening_a_button_only_address_gets_a_styled_page_that_keeps_the_allow_header(
    client, owner, review
):
    client.force_login(owner)
    response = client.get(reverse("extraction:download", args=[review.slug]))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    html = _styled(response)
    assert "does not answer a GET request" in html


def test_htmx_and_the_api_keep_their_bare_405(client, owner, review):
    client.force_login(owner)
    url = reverse("extraction:download", args=[review.slug])
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 405
    assert response.content == b""
    response = client.delete(reverse("api:review-list"))
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
