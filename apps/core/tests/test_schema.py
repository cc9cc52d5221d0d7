import pytest

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_and_docs_page_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/todos/{id}" in paths or "/api/todos/{id}/" in paths
    assert any(path.startswith("/api/auth/token") for path in paths)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
