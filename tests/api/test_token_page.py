"""Each user makes, replaces and revokes their own API token on /accounts/api-token/."""

from django.urls import reverse
from rest_framework.authtoken.models import Token

PAGE = "/accounts/api-token/"


def _api(client, key):
    return client.get(reverse("api:review-list"), HTTP_AUTHORIZATION=f"Token {key}")


def test_anonymous_user_is_sent_to_login(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.post(PAGE, {"action": "create"}).status_code == 302
    assert not Token.objects.exists()


def test_a_new_token_is_shown_once_and_opens_the_api_on_my_reviews(client, analyst, review):
    client.force_login(analyst)
    assert "You have no API token." in client.get(PAGE).content.decode()
    html = client.post(PAGE, {"action": "create"}).content.decode()
    key = Token.objects.get(user=analyst).key
    assert f'value="{key}"' in html and "not shown again" in html

    anonymous = client.__class__()
    response = _api(anonymous, key)
    assert response.status_code == 200
    assert [r["slug"] for r in response.json()["results"]] == [review.slug]

    later = client.get(PAGE).content.decode()
    assert key not in later and f"…{key[-4:]}" in later


def test_replacing_a_token_stops_the_old_one_and_revoking_stops_it(client, analyst, review):
    client.force_login(analyst)
    client.post(PAGE, {"action": "create"})
    old = Token.objects.get(user=analyst).key
    client.post(PAGE, {"action": "create"})
    new = Token.objects.get(user=analyst).key
    anonymous = client.__class__()
    assert new != old
    assert _api(anonymous, old).status_code == 401
    assert _api(anonymous, new).status_code == 200

    response = client.post(PAGE, {"action": "revoke"}, follow=True)
    assert "no longer works" in response.content.decode()
    assert _api(anonymous, new).status_code == 401
    assert not Token.objects.filter(user=analyst).exists()


def test_an_unknown_action_is_named_and_changes_nothing(client, analyst):
    client.force_login(analyst)
    client.post(PAGE, {"action": "create"})
    key = Token.objects.get(user=analyst).key
    response = client.post(PAGE, {"action": "delete-all"}, follow=True)
    assert "Unknown action &#x27;delete-all&#x27;" in response.content.decode()
    assert Token.objects.get(user=analyst).key == key
