from django.urls import reverse

from reviewapp.core.services import worker_heartbeat_record


def test_production_redirects_plain_http_to_https(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(reverse("login"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_healthz_answers_without_login_and_reports_the_database(client, db):
    # A worker beat recently; /healthz reports it too (tests/core/test_health.py).
    worker_heartbeat_record(hostname="celery@worker-1")
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
