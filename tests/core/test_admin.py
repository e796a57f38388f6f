import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

OUR_APPS = {
    "core",
    "reviews",
    "literature",
    "screening",
    "extraction",
    "synthesis",
    "grade",
    "reporting",
    "mail",
    "accounts",
    "notifications",
}


def _our_models():
    return [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]


def test_every_model_of_ours_is_in_the_django_admin():
    missing = [m.__name__ for m in _our_models() if not admin.site.is_registered(m)]
    assert not missing


@pytest.mark.parametrize("model", _our_models(), ids=lambda m: m.__name__)
def test_each_admin_list_opens_for_a_superuser(admin_client, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert admin_client.get(url).status_code == 200


def test_decisions_cannot_be_edited_in_the_admin(admin_client, review, reviewer, records):
    from reviewapp.screening.services import decision_record
    from tests.conftest import membership_of

    decision, _ = decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="include"
    )
    url = reverse("admin:screening_decision_delete", args=[decision.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
