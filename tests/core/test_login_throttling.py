"""Login throttling: an account locks after 5 failures, an address after 20, for 15 minutes."""

from datetime import UTC, datetime, timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.urls import reverse

from reviewapp.core.throttling import forwarded_client, lock_end
from tests.factories import PASSWORD, UserFactory

LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _limits(settings):
    # The defaults, set here so a developer's environment cannot change what is tested.
    settings.LOGIN_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_FAILURES_PER_ADDRESS = 20
    settings.AXES_FAILURE_LIMIT = 20
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.TRUSTED_PROXY_COUNT = 0


def log_in(client, username, password, url=LOGIN, addr="198.51.100.7", **extra):
    # The app's form names the field `login` (a username or an email); the admin's `username`.
    field = "login" if url == LOGIN else "username"
    return client.post(url, {field: username, "password": password}, REMOTE_ADDR=addr, **extra)


def logged_in_as(client):
    return client.session.get("_auth_user_id")


def fail(client, username, times, **kwargs):
    for _ in range(times):
        response = log_in(client, username, "wrong password", **kwargs)
        assert response.status_code in (200, 429)
    return response


def cool_off_passes():
    """Fifteen minutes and a second go by: every recorded failure is that much older."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=15, seconds=1))


def test_five_wrong_passwords_then_the_right_one_is_refused_with_a_message(client, db):
    user = UserFactory(username="olivia")
    for attempt in range(1, 5):
        response = log_in(client, "olivia", "wrong password")
        assert response.status_code == 200, attempt
        assert "username and/or password you specified are not correct" in (
            response.content.decode()
        )
    response = log_in(client, "olivia", "wrong password")
    assert response.status_code == 429

    response = log_in(client, "olivia", PASSWORD)
    assert response.status_code == 429
    assert not logged_in_as(client)
    page = response.content.decode()
    assert 'data-testid="lockout"' in page and "app.css" in page  # the styled page, not plain text
    assert "too many failed attempts to log in as “olivia”" in page
    assert "not even the right one" in page
    assert "Try again after" in page and "UTC" in page
    retry_after = int(response["Retry-After"])
    assert 14 * 60 < retry_after <= 15 * 60
    assert user.pk  # the account itself is untouched


def test_the_lockout_time_shown_is_fifteen_minutes_after_the_last_failure(client, db):
    UserFactory(username="olivia")
    fail(client, "olivia", 5)
    last = AccessAttempt.objects.get(username="olivia").attempt_time
    response = log_in(client, "olivia", PASSWORD)
    assert f"until {(last + timedelta(minutes=15)):%H:%M} UTC" in response.content.decode()


def test_failures_while_locked_do_not_push_the_end_of_the_lock_further(client, db):
    UserFactory(username="olivia")
    fail(client, "olivia", 5)
    before = AccessAttempt.objects.get(username="olivia")
    fail(client, "olivia", 3)
    after = AccessAttempt.objects.get(username="olivia")
    assert (after.attempt_time, after.failures_since_start) == (before.attempt_time, 5)


def test_the_account_logs_in_again_after_the_cool_off(client, db):
    UserFactory(username="olivia")
    fail(client, "olivia", 5)
    assert log_in(client, "olivia", PASSWORD).status_code == 429
    cool_off_passes()
    response = log_in(client, "olivia", PASSWORD)
    assert response.status_code == 302
    assert logged_in_as(client)


def test_another_account_from_the_same_address_still_logs_in_until_the_address_limit(client, db):
    UserFactory(username="olivia")
    rita = UserFactory(username="rita")
    fail(client, "olivia", 5)
    response = log_in(client, "rita", PASSWORD)
    assert response.status_code == 302 and logged_in_as(client) == str(rita.pk)
    client.logout()
    # Guessing across many accounts from one address: 20 failures in all lock the address.
    for name in ("a1", "a2", "a3"):
        fail(client, name, 4)
    fail(client, "a4", 2)
    assert AccessAttempt.objects.filter(ip_address="198.51.100.7").count() == 5
    assert log_in(client, "a5", "wrong").status_code == 429  # the 20th failure locks
    response = log_in(client, "rita", PASSWORD)
    assert response.status_code == 429
    assert "from your network address" in response.content.decode()
    assert not logged_in_as(client)
    # The same account from another address is not affected by that address's lock.
    assert log_in(client, "rita", PASSWORD, addr="203.0.113.9").status_code == 302


def test_a_locked_account_is_locked_from_every_address(client, db):
    UserFactory(username="olivia")
    fail(client, "olivia", 5, addr="198.51.100.7")
    assert log_in(client, "olivia", PASSWORD, addr="203.0.113.9").status_code == 429


def test_a_successful_login_forgives_the_accounts_earlier_typos(client, db):
    UserFactory(username="olivia")
    fail(client, "olivia", 4)
    assert log_in(client, "olivia", PASSWORD).status_code == 302
    client.logout()
    fail(client, "olivia", 4)
    assert log_in(client, "olivia", PASSWORD).status_code == 302


def test_failures_by_email_address_and_by_username_count_against_the_same_account(client, db):
    UserFactory(username="olivia", email="Olivia@Example.org")
    fail(client, "olivia", 2)
    fail(client, "olivia@example.org", 2)
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"olivia"}
    log_in(client, "OLIVIA@example.org", "wrong password")  # the fifth failure locks
    for login in ("olivia", "olivia@example.org"):
        response = log_in(client, login, PASSWORD)
        assert response.status_code == 429, login
        assert "too many failed attempts to log in as “olivia”" in response.content.decode()
    assert not logged_in_as(client)


def test_the_right_email_address_and_password_log_in(client, db):
    olivia = UserFactory(username="olivia", email="olivia@example.org")
    response = log_in(client, "Olivia@Example.org", PASSWORD)
    assert response.status_code == 302 and logged_in_as(client) == str(olivia.pk)


def test_a_script_posting_the_old_username_field_still_logs_in(client, db):
    olivia = UserFactory(username="olivia")
    response = client.post(LOGIN, {"username": "olivia", "password": PASSWORD})
    assert response.status_code == 302 and logged_in_as(client) == str(olivia.pk)


def test_the_admin_login_is_throttled_too(client, db):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    admin_login = reverse("admin:login")
    for _ in range(5):
        log_in(client, "root", "wrong password", url=admin_login)
    response = log_in(client, "root", PASSWORD, url=admin_login)
    assert response.status_code == 429
    assert "Logging in is paused" in response.content.decode()
    assert not logged_in_as(client)


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(client, db, settings):
    UserFactory(username="olivia")
    # Without a trusted proxy, a forged header does not give each attempt a fresh address.
    for n in range(20):
        log_in(client, f"guess{n}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
    settings.TRUSTED_PROXY_COUNT = 1
    log_in(client, "olivia", "wrong", HTTP_X_FORWARDED_FOR="1.2.3.4, 192.0.2.200")
    assert AccessAttempt.objects.filter(ip_address="192.0.2.200").exists()


@pytest.mark.parametrize(
    "remote, header, proxies, expected",
    [
        ("10.0.0.2", "", 0, "10.0.0.2"),
        ("10.0.0.2", "192.0.2.1", 0, "10.0.0.2"),
        ("10.0.0.2", "192.0.2.1", 1, "192.0.2.1"),
        ("10.0.0.2", "6.6.6.6, 192.0.2.1", 1, "192.0.2.1"),
        ("10.0.0.2", "6.6.6.6, 192.0.2.1, 10.0.0.9", 2, "192.0.2.1"),
        ("10.0.0.2", "192.0.2.1", 2, "10.0.0.2"),
        ("10.0.0.2", "unknown", 1, "10.0.0.2"),
        ("10.0.0.2", "2001:db8::1", 1, "2001:db8::1"),
    ],
)
def test_the_client_address_is_the_one_the_trusted_proxy_saw(remote, header, proxies, expected):
    assert forwarded_client(remote, header, proxies) == expected


def test_a_lock_ends_when_the_row_that_reached_the_limit_expires():
    t = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    cool = timedelta(minutes=15)
    rows = [(t, 3), (t + timedelta(minutes=5), 2), (t + timedelta(minutes=9), 1)]
    assert lock_end(rows, 5, cool) == t + cool
    assert lock_end(rows, 3, cool) == t + timedelta(minutes=5) + cool
    assert lock_end(rows, 1, cool) == t + timedelta(minutes=9) + cool
    assert lock_end(rows, 7, cool) is None
