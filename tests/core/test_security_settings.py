"""The security settings read from the environment: junk values stop the start, naming the variable."""

import pytest

from reviewapp.env import EnvError, env_rate
from tests.core.test_settings import _manage


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOGIN_FAILURES_PER_ACCOUNT", "0"),
        ("LOGIN_FAILURES_PER_ADDRESS", "many"),
        ("LOGIN_LOCKOUT_MINUTES", "-1"),
        ("DJANGO_TRUSTED_PROXY_COUNT", "9"),
        ("API_RATE_USER", "lots"),
        ("API_RATE_ANON", "60 per hour"),
    ],
)
def test_a_malformed_security_value_stops_the_start_naming_the_variable(variable, value):
    result = _manage("check", **{"DJANGO_DEBUG": "1", variable: value})
    assert result.returncode != 0
    assert "Configuration error" in result.stderr and variable in result.stderr


def test_env_rate_reads_what_the_rest_framework_reads():
    assert env_rate("R", "1/s", environ={"R": "100/minute"}) == "100/minute"
    assert env_rate("R", "2000/hour", environ={}) == "2000/hour"
    with pytest.raises(EnvError, match="R='100/fortnight' is not a rate"):
        env_rate("R", "1/s", environ={"R": "100/fortnight"})


def test_the_limits_come_from_the_environment(settings):
    # The values the test run starts with are the documented defaults (.env.example).
    from reviewapp import settings as app_settings

    assert (app_settings.LOGIN_FAILURES_PER_ACCOUNT, app_settings.LOGIN_FAILURES_PER_ADDRESS) == (
        5,
        20,
    )
    assert app_settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert app_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "user": "2000/hour",
        "anon": "60/hour",
    }
