"""Fixtures for the fault tests that run the app in gunicorn (tests/own_services.py)."""

import pytest
from django.contrib.auth.hashers import make_password

from tests.own_services import PASSWORD, collect_static


def _production_password(user):
    # The test settings hash with MD5 for speed; gunicorn runs the production hashers.
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])


@pytest.fixture
def needs_postgresql():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL: gunicorn shares the test database")


@pytest.fixture
def cast(owner, review, records, reviewer, settings):
    """The review with records; its owner (olivia) and a reviewer (rita) can log in to gunicorn."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    for user in (owner, reviewer):
        _production_password(user)
    return {"review": review}


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    return collect_static(tmp_path_factory.mktemp("static"))
