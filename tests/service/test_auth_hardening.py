"""Sign-in hardening: lock-out after repeated failures (token endpoint, dashboard and admin login alike), a
throttled token endpoint, expiring tokens, a Content-Security-Policy header, server paths/tracebacks for staff only."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters() -> Any:
    cache.clear()
    yield
    cache.clear()


def test_token_endpoint_locks_a_user_out_after_repeated_failures(user: Any, settings: Any) -> None:
    settings.OVDIFF_LOGIN_MAX_FAILURES = 3
    client = APIClient()
    for _ in range(3):
        bad = client.post("/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json")
        assert bad.status_code == 400
    locked = client.post("/api/auth/token/", {"username": "alice", "password": "pw-alice-123"}, format="json")
    assert locked.status_code == 429 and "too many failed sign-ins" in locked.json()["detail"]
    ui = Client()  # the dashboard and admin logins share the lock-out (one authentication backend)
    response = ui.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 200 and "_auth_user_id" not in ui.session
    cache.clear()  # the lock-out expires (OVDIFF_LOGIN_LOCKOUT_S)
    assert client.post("/api/auth/token/", {"username": "alice", "password": "pw-alice-123"},
                       format="json").status_code == 200


def test_admin_login_failures_count_too(user: Any, settings: Any) -> None:
    settings.OVDIFF_LOGIN_MAX_FAILURES = 2
    ui = Client()
    for _ in range(2):
        ui.post("/admin/login/", {"username": "alice", "password": "nope"})
    client = APIClient()
    assert client.post("/api/auth/token/", {"username": "alice", "password": "pw-alice-123"},
                       format="json").status_code == 429


def test_token_endpoint_is_rate_limited(user: Any, settings: Any) -> None:
    from ovdiff_web.security import FailOpenThrottle

    settings.OVDIFF_LOGIN_MAX_FAILURES = 1000
    FailOpenThrottle.THROTTLE_RATES = {"auth": "5/min"}
    try:
        client = APIClient()
        codes = [client.post("/api/auth/token/", {"username": f"u{i}", "password": "x"}, format="json").status_code
                 for i in range(7)]
    finally:
        FailOpenThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert codes[:5] == [400] * 5 and codes[5:] == [429, 429]


def test_tokens_expire(user: Any, settings: Any) -> None:
    settings.OVDIFF_TOKEN_TTL_HOURS = 1
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/runs/").status_code == 200
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(hours=2))
    response = client.get("/api/runs/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    fresh = APIClient().post("/api/auth/token/", {"username": "alice", "password": "pw-alice-123"}, format="json")
    assert fresh.status_code == 200 and fresh.json()["token"] != token.key  # an expired token is replaced


def test_content_security_policy_on_pages_and_api(ui_client: Any) -> None:
    for url in ("/runs/", "/vocabularies/", "/login/", "/api/health/"):
        csp = ui_client.get(url)["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" in ui_client.get("/api/docs/")["Content-Security-Policy"]  # its bundled bootstrap


def test_server_paths_and_tracebacks_for_staff_only(api: Any, user: Any, demo_dataset: dict[str, Any]) -> None:
    from ovdiff_web.core.models import Run

    assert api.get(f"/api/datasets/{demo_dataset['id']}/").json()["root"] is None
    run = Run.objects.create(profile="tiny", status="failed", created_by=user, traceback="Traceback: /srv/secret.py")
    assert api.get(f"/api/runs/{run.pk}/").json()["traceback"] == ""
    user.is_staff = True
    user.save()
    assert api.get(f"/api/runs/{run.pk}/").json()["traceback"].startswith("Traceback")
    assert api.get(f"/api/datasets/{demo_dataset['id']}/").json()["root"]
