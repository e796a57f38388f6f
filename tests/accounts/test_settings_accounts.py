"""The accounts, mail and notification variables: junk or half a configuration stops the start."""

import pytest

from tests.core.test_settings import _manage


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"EMAIL_URL": "mailto://postmaster"}, "EMAIL_URL"),
        ({"SIGNUP_POLICY": "sometimes"}, "SIGNUP_POLICY"),
        ({"SIGNUP_POLICY": "domains"}, "SIGNUP_EMAIL_DOMAINS"),
        ({"OIDC_SERVER_URL": "https://login.example.edu/realms/staff"}, "OIDC_CLIENT_ID"),
        ({"OIDC_CLIENT_ID": "reviewapp"}, "OIDC_SERVER_URL"),
        ({"SITE_URL": "ftp://reviews.example.org"}, "SITE_URL"),
        ({"DIGEST_HOUR": "25"}, "DIGEST_HOUR"),
        ({"INVITATION_DAYS": "0"}, "INVITATION_DAYS"),
    ],
)
def test_a_bad_or_incomplete_setting_stops_the_start_naming_the_variable(variables, named):
    result = _manage("check", DJANGO_DEBUG="1", **variables)
    assert result.returncode != 0
    assert "Configuration error" in result.stderr
    assert named in result.stderr


def test_a_complete_configuration_starts():
    result = _manage(
        "check",
        DJANGO_DEBUG="1",
        EMAIL_URL="smtp+tls://mailer:s%40cret@smtp.example.org:587",
        SIGNUP_POLICY="domains",
        SIGNUP_EMAIL_DOMAINS="uni.example.edu, @example.org",
        OIDC_SERVER_URL="https://login.example.edu/realms/staff",
        OIDC_CLIENT_ID="reviewapp",
        OIDC_CLIENT_SECRET="s3cret",
    )
    assert result.returncode == 0, result.stderr
