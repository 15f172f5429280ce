"""Worker status endpoint (broker reachable or not, never hanging) and the OpenAPI schema."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_workers_when_broker_unavailable(api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from ovdiff_web.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/15")
    start = time.monotonic()
    response = api.get("/api/workers/")
    assert time.monotonic() - start < 10
    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable" and "broker" in response.json()["detail"]


def test_workers_with_broker_and_no_worker(api: APIClient) -> None:
    response = api.get("/api/workers/")
    body = response.json()
    assert response.status_code == 200 and body["broker"] == "ok"
    assert isinstance(body["workers"], list)


def test_openapi_schema_validates_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/runs/{id}/progress/", "/api/classes/{id}/set_label/", "/api/datasets/",
                 "/api/vocabularies/{id}/classes/bulk/", "/api/runs/{id}/images/", "/api/health/"):
        assert path in text
