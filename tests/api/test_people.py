"""The API for people: /api/ lists what it offers, /api/docs/ is Swagger UI served by us, and
the schema reads in a browser instead of downloading."""

import html as html_lib
import json
import re

import pytest
import yaml
from django.urls import reverse

from tests.api.test_schema import PATHS
from tests.core.test_csp import directives

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize("who", ["owner", "reviewer", "analyst", "outsider"])
def test_every_logged_in_user_reads_the_root_as_a_page(client, request, review, who):
    user = request.getfixturevalue(who)
    client.force_login(user)
    response = client.get(reverse("api:root"), HTTP_ACCEPT=BROWSER)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "css/app.css" in html  # the app's layout
    for path in PATHS:
        assert path in html
    assert reverse("api:docs") in html
    # Members see their review's endpoints ready to follow; an outsider does not see it at all.
    assert (reverse("api:record-list", args=[review.slug]) in html) is (who != "outsider")


def test_a_script_gets_the_root_as_json_with_its_reviews(api, review, reviewer, outsider):
    api.force_authenticate(reviewer)
    data = api.get(reverse("api:root"), HTTP_ACCEPT="application/json").json()
    assert {e["path"] for e in data["endpoints"]} == PATHS
    reviews = next(e for e in data["endpoints"] if e["path"] == "/api/reviews/")
    assert reviews["url"] == "http://testserver/api/reviews/"
    assert reviews["description"] == "The reviews you are a member of."
    assert [r["slug"] for r in data["reviews"]] == [review.slug]
    assert data["docs"].endswith("/api/docs/")
    assert data["schema"].endswith("/api/schema/")
    api.force_authenticate(outsider)
    assert api.get(reverse("api:root"), {"format": "json"}).json()["reviews"] == []


def test_anonymous_scripts_get_401_and_people_are_sent_to_log_in(client, db):
    response = client.get(reverse("api:root"), HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    response = client.get(reverse("api:root"), HTTP_ACCEPT=BROWSER)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/api/"


def test_the_root_reads_only(client, owner):
    client.force_login(owner)
    assert client.post(reverse("api:root"), HTTP_ACCEPT="application/json").status_code == 405


def test_a_browser_sees_the_schema_as_yaml_in_a_page(client, db):
    response = client.get(reverse("api:schema"), HTTP_ACCEPT=BROWSER)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert not response.get("Content-Disposition", "").startswith("attachment")
    html = response.content.decode()
    assert "css/app.css" in html
    text = re.search(r"<code>(.*)</code>", html, re.S).group(1)
    schema = yaml.safe_load(html_lib.unescape(text))
    assert set(schema["paths"]) >= PATHS


def test_format_json_is_plain_json_a_browser_shows(client, db):
    response = client.get(reverse("api:schema"), {"format": "json"}, HTTP_ACCEPT=BROWSER)
    assert response["Content-Type"] == "application/json"
    assert set(json.loads(response.content)["paths"]) >= PATHS


def test_scripts_still_get_yaml_by_default_and_the_openapi_types_they_ask_for(client, db):
    assert client.get(reverse("api:schema"))["Content-Type"].startswith(
        "application/vnd.oai.openapi"
    )
    response = client.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    json.loads(response.content)


def test_the_docs_page_loads_swagger_ui_from_our_static_files_without_inline_script(client, db):
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in s for s in sources)
    assert all(s.startswith("/") and not s.startswith("//") for s in sources)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html and "<style" not in html
    # The policy is the app's own, unchanged.
    # Read directive by directive: their order in the header is not fixed.
    assert directives(response)["script-src"] == ["'self'"]
    assert "unsafe" not in response["Content-Security-Policy"]


def test_the_docs_script_points_swagger_ui_at_the_schema(client, db):
    script_url = re.search(
        r'<script src="([^"]*script=[^"]*)"', client.get(reverse("api:docs")).content.decode()
    ).group(1)
    response = client.get(script_url.replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert 'url: "/api/schema/"' in response.content.decode()
