"""EMAIL_URL, read without Django: each form gives the settings Django's mail backends read."""

import pytest

from reviewapp.env import EnvError, env_email_url


def parse(value: str) -> dict:
    return env_email_url("EMAIL_URL", "console://", environ={"EMAIL_URL": value})


def test_unset_gives_the_default():
    assert env_email_url("EMAIL_URL", "console://", environ={}) == {
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"
    }


def test_smtp_with_starttls_and_a_percent_encoded_password():
    assert parse("smtp+tls://mailer%40uni.example:p%40ss%3Aw%2Frd@smtp.uni.example:587") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.uni.example",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "mailer@uni.example",
        "EMAIL_HOST_PASSWORD": "p@ss:w/rd",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 30,
    }


def test_smtps_defaults_to_port_465_and_plain_smtp_to_25():
    assert parse("smtps://smtp.example.org")["EMAIL_PORT"] == 465
    assert parse("smtps://smtp.example.org")["EMAIL_USE_SSL"] is True
    assert parse("smtp://localhost?timeout=5")["EMAIL_PORT"] == 25
    assert parse("smtp://localhost?timeout=5")["EMAIL_TIMEOUT"] == 5


@pytest.mark.parametrize(
    "value, message",
    [
        ("mailto://x", "has scheme 'mailto'"),
        ("smtp://", "names no host"),
        ("smtp://host:port", "is not a valid URL"),
        ("smtp://host?timeout=soon", "is not whole seconds"),
    ],
)
def test_a_malformed_url_is_refused_naming_the_variable(value, message):
    with pytest.raises(EnvError, match="EMAIL_URL") as caught:
        parse(value)
    assert message in str(caught.value)
