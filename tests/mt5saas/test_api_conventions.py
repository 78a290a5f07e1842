"""Conventions every API route keeps: JSON errors, rate limit, schema and docs offline."""

import pytest


@pytest.mark.django_db
def test_unknown_api_path_is_json_404_and_unknown_page_is_html_404(client):
    api = client.get("/api/v1/nothing-here")
    page = client.get("/no-such-page")

    assert api.status_code == 404 and api.json() == {"detail": "Not found."}
    assert page.status_code == 404 and "<h1" in page.text and "Traceback" not in page.text


@pytest.mark.django_db
def test_api_rate_limit_is_per_user_with_retry_after(api_client, alice, bob, settings):
    settings.API_RATE_LIMIT = "3/m"
    api_client.force_login(alice)

    codes = [api_client.get("/auth/webhook-token").status_code for _ in range(4)]
    limited = api_client.get("/auth/webhook-token")
    api_client.force_login(bob)

    assert codes == [200, 200, 200, 429]
    assert limited.json()["detail"].startswith("Request was throttled")
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert api_client.get("/auth/webhook-token").status_code == 200


@pytest.mark.django_db
def test_validation_errors_carry_detail_and_field_errors(api_client, operator):
    api_client.force_login(operator)

    response = api_client.get("/api/admin/users", {"is_active": "perhaps"})

    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid input."
    assert "is_active" in response.json()["errors"]


@pytest.mark.django_db
def test_bad_page_number_is_404_not_500(api_client, operator):
    api_client.force_login(operator)

    assert api_client.get("/api/admin/users", {"page": "abc"}).status_code == 404
    assert api_client.get("/api/admin/users", {"page": "99999"}).status_code == 404


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served_without_any_cdn(client):
    schema = client.get("/api/schema/", headers={"Accept": "application/json"})
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/auth/webhook-token" in paths or "/auth/webhook-token/" in str(paths)
    assert "apiToken" in schema.json()["components"]["securitySchemes"]
    assert docs.status_code == 200
    assert "drf_spectacular_sidecar" in docs.text
    assert "cdn" not in docs.text.lower() and "unpkg" not in docs.text.lower()
