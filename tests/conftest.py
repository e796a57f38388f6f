"""Shared fixtures: a review and its cast (owner, admin, reviewer, second reviewer, analyst, outsider)."""

import pytest

from reviewapp.reviews.constants import Role
from tests.factories import MembershipFactory, RecordFactory, UserFactory, review_make

# Fixtures shared across apps: a real Celery worker process, the fake E-utilities server, the
# blinding cast and scenes, and a real SMTP server.
pytest_plugins = ["tests.celery_worker", "tests.fake_eutils", "tests.blinding", "tests.smtp_server"]


@pytest.fixture(scope="session")
def media_root(tmp_path_factory):
    """One uploads folder for the session, shared with any worker process the tests start."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, media_root):
    settings.MEDIA_ROOT = str(media_root)


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # Tests run with DEBUG off like production; the test client speaks plain HTTP, so the HTTPS
    # redirect is switched off here and tested on its own in tests/core/test_security.py.
    settings.SECURE_SSL_REDIRECT = False
    # Hashing stays real but cheap, so creating a cast of users per test costs milliseconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _api_rates_out_of_reach(settings):
    # API throttle counters live in the shared cache and every test calls from 127.0.0.1: rates no
    # test reaches keep one test's calls from throttling the next. tests/api/test_throttling.py
    # sets low rates to test the throttles themselves.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "100000/minute", "anon": "100000/minute"},
    }


@pytest.fixture(autouse=True)
def _account_rates_out_of_reach(settings):
    # allauth counts sign-ups, reset mails and logins per address in the shared cache (Redis),
    # where one test's requests would count against the next. Failed logins are throttled by
    # axes in the database, untouched here; tests/accounts/test_rate_limits.py sets allauth's own.
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.fixture
def owner(db):
    return UserFactory(username="olivia")


@pytest.fixture
def review(owner):
    return review_make(owner=owner, slug="natalizumab")


def _member(review, username, role):
    return MembershipFactory(review=review, user=UserFactory(username=username), role=role).user


@pytest.fixture
def review_admin(review):
    return _member(review, "adam", Role.ADMIN)


@pytest.fixture
def reviewer(review):
    return _member(review, "rita", Role.REVIEWER)


@pytest.fixture
def reviewer2(review):
    return _member(review, "ravi", Role.REVIEWER)


@pytest.fixture
def analyst(review):
    return _member(review, "anna", Role.ANALYST)


@pytest.fixture
def outsider(db):
    """Logged in, but not a member of the review."""
    return UserFactory(username="oscar")


@pytest.fixture
def records(review):
    return RecordFactory.create_batch(3, review=review)


def membership_of(user, review):
    return user.memberships.get(review=review)
