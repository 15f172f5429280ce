"""Anonymous requests get 401 everywhere except health and the API docs/schema; tokens can be revoked."""
from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PROTECTED = ["/api/vocabularies/", "/api/classes/", "/api/support-sets/", "/api/banks/", "/api/datasets/",
             "/api/runs/", "/api/workers/", "/api/runs/1/progress/", "/api/vocabularies/1/classes/"]


@pytest.mark.parametrize("url", PROTECTED)
def test_anonymous_is_401(anon: APIClient, url: str) -> None:
    assert anon.get(url).status_code == 401


@pytest.mark.parametrize("url", ["/api/runs/", "/api/datasets/", "/api/vocabularies/", "/api/auth/token/revoke/"])
def test_anonymous_post_is_401(anon: APIClient, url: str) -> None:
    assert anon.post(url, {}, format="json").status_code == 401


@pytest.mark.parametrize("url", ["/api/health/", "/api/schema/", "/api/docs/", "/api/redoc/"])
def test_public_endpoints(anon: APIClient, url: str) -> None:
    response = anon.get(url)
    assert response.status_code == 200


def test_health_reports_database(anon: APIClient) -> None:
    body = anon.get("/api/health/").json()
    assert body == {"status": "ok", "database": "ok", "profile": "tiny"}


def test_docs_use_local_sidecar_assets_not_a_cdn(anon: APIClient) -> None:
    html = anon.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower()


def test_token_obtain_use_and_revoke(user, media_root) -> None:
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": "alice", "password": "pw-alice-123"}, format="json")
    assert response.status_code == 200
    key = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/runs/").status_code == 200
    assert client.post("/api/auth/token/revoke/").status_code == 204
    assert not Token.objects.filter(key=key).exists()
    assert client.get("/api/runs/").status_code == 401


def test_session_auth_works(user, media_root) -> None:
    client = APIClient()
    assert client.login(username="alice", password="pw-alice-123")
    assert client.get("/api/vocabularies/").status_code == 200
