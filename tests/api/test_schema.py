"""The OpenAPI schema is served by the app, valid, and lists every endpoint."""

import json

import yaml
from django.urls import reverse
from drf_spectacular.validation import validate_schema

PATHS = {
    "/api/reviews/",
    "/api/reviews/{slug}/",
    "/api/reviews/{slug}/records/",
    "/api/reviews/{slug}/decisions/",
    "/api/reviews/{slug}/prisma/",
    "/api/reviews/{slug}/forms/",
    "/api/reviews/{slug}/extractions/",
}


def test_the_schema_is_valid_openapi_json_with_every_endpoint(client, db):
    response = client.get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= PATHS
    assert all(set(schema["paths"][p]) <= {"get", "parameters"} for p in PATHS)


def test_the_schema_is_also_served_as_yaml(client, db):
    response = client.get(reverse("api:schema"))
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert set(schema["paths"]) >= PATHS
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
