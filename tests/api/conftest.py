import pytest
from rest_framework.test import APIClient

from tests.extraction.conftest import dual_form, study  # noqa: F401  (shared fixtures)


@pytest.fixture
def api():
    return APIClient()
