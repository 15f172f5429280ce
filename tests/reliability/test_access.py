"""Access: every URL pattern refuses anonymous writes; CSRF guards the session-authenticated UI and API; tokens
can be revoked; secrets never appear in responses or logs; ``check --deploy`` is clean."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
WRITE_METHODS = ("post", "put", "patch", "delete")
# Deliberately open to anonymous users: signing in (page, API token exchange) and signing out.
PUBLIC_WRITES = {"login/", "logout/", "api/auth/token/", "admin/login/", "admin/logout/"}
# Files, not pages: no login redirect, the same 404 as for a signed-in user who may not read them.
FILE_ROUTES = ("files/", "support-images/")
CONVERTER_SAMPLES = {"int": "1", "str": "x", "path": "x/y.png", "slug": "x", "uuid": "00000000-0000-0000-0000-000000000000"}


def _routes(patterns: list[Any] | None = None, prefix: str = "") -> Iterator[str]:
    """Concrete URLs for every pattern (converters filled with sample values, regex groups likewise)."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = _pattern_text(entry)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route


def _pattern_text(entry: Any) -> str:
    text = str(entry.pattern)
    text = re.sub(r"\\\.\(\?P<format>[^)]*\)/\?", ".json", text)  # DRF format-suffix variants
    text = re.sub(r"\(\?P<\w+>[^)]*\)", "1", text)
    text = re.sub(r"\.?<drf_format_suffix:\w+>", "", text)
    text = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: CONVERTER_SAMPLES[m.group(1) or "str"], text)
    return text.lstrip("^").rstrip("$").replace("\\.", ".").replace("\\Z", "")


ROUTES = sorted({r for r in _routes() if "(?" not in r and "[" not in r})


def test_route_enumeration_is_complete() -> None:
    assert len(ROUTES) > 60
    for expected in ("api/runs/1/resume/", "api/classes/1/set_label/", "vocabularies/1/classes/1/label/",
                     "runs/1/cancel/", "api/datasets/", "segment/"):
        assert expected in ROUTES


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_writes_are_refused(route: str, media_root: Path) -> None:
    """401/403 on the API; the dashboard and admin send anonymous users to a login page; nothing else."""
    client = Client()
    for method in WRITE_METHODS:
        response = getattr(client, method)(f"/{route}", data={}, content_type="application/json")
        code = response.status_code
        if route in PUBLIC_WRITES:
            assert code < 500, (method, route, code)
            continue
        if route.startswith("api/"):
            assert code in (401, 403, 405), (method, route, code)
            if code == 405:  # only for read-only public endpoints (health, schema, docs)
                assert route in ("api/health/", "api/schema/", "api/docs/", "api/redoc/"), (method, route)
        elif code in (301, 302):
            location = response["Location"]
            assert "/login/" in location or route == "", (method, route, location)
        else:
            assert code in (401, 403, 404, 405), (method, route, code)
            if code in (404, 405):  # files answer 404/405 to anyone who may not read them; home redirects
                assert route.startswith(FILE_ROUTES) or route == "", (method, route, code)


def test_csrf_enforced_on_session_ui(user: Any, media_root: Path) -> None:
    from ovdiff_web.core.models import Vocabulary

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    # No token: refused, nothing created.
    response = client.post("/vocabularies/", {"name": "csrf", "description": "", "class_names": "cat"})
    assert response.status_code == 403 and not Vocabulary.objects.filter(name="csrf").exists()
    # With the token from the page's cookie + form field: accepted.
    page = client.get("/vocabularies/")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else client.cookies["csrftoken"].value
    response = client.post("/vocabularies/", {"name": "csrf", "description": "", "class_names": "cat",
                                              "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and Vocabulary.objects.filter(name="csrf").exists()
    vocab = Vocabulary.objects.get(name="csrf")
    cls = vocab.classes.get()
    assert client.post(f"/vocabularies/{vocab.pk}/classes/{cls.pk}/label/",
                       {"is_stuff": "1", "version": cls.version}).status_code == 403


def test_csrf_enforced_on_session_api(user: Any, media_root: Path) -> None:
    """The API with a session cookie (the dashboard's JavaScript) needs the CSRF header; with a token it does not."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/vocabularies/", {"name": "x"}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    token_client = APIClient(enforce_csrf_checks=True)
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert token_client.post("/api/vocabularies/", {"name": "x"}, format="json").status_code == 201


def test_revoked_token_stops_working_and_only_the_callers(user: Any, other_user: Any, media_root: Path) -> None:
    mine, theirs = APIClient(), APIClient()
    key = mine.post("/api/auth/token/", {"username": "alice", "password": "pw-alice-123"}, format="json").json()["token"]
    other = Token.objects.create(user=other_user).key
    mine.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    theirs.credentials(HTTP_AUTHORIZATION=f"Token {other}")
    assert mine.post("/api/vocabularies/", {"name": "before"}, format="json").status_code == 201
    assert mine.post("/api/auth/token/revoke/").status_code == 204
    assert mine.post("/api/vocabularies/", {"name": "after"}, format="json").status_code == 401
    assert mine.get("/api/runs/").status_code == 401
    assert theirs.get("/api/runs/").status_code == 200  # someone else's token is untouched


@pytest.mark.slow  # seconds (subprocesses, every route or file kind): make test, not test-fast
def test_secrets_never_in_responses_or_logs(user: Any, settings: Any, media_root: Path, caplog: Any) -> None:
    """Browse every API list and dashboard page and hit the broker error path; grep bodies and logs."""
    from tests.reliability.conftest import free_port, web_broker

    secret = "s3cret-KEY-for-reliability-test-" + "x" * 30
    settings.SECRET_KEY = secret
    broker_password = "brokerPW-never-shown"
    token = Token.objects.create(user=user).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    ui = Client()
    ui.force_login(user)
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []
    with web_broker(f"redis://:{broker_password}@127.0.0.1:{free_port()}/0"):
        settings.OVDIFF_WORKER_PING_TIMEOUT = 0.3
        logging.getLogger("ovdiff.test").error("connecting to redis://:%s@127.0.0.1:1/0 token=%s",
                                               broker_password, token)
        for url in ("/api/vocabularies/", "/api/classes/", "/api/support-sets/", "/api/banks/", "/api/datasets/",
                    "/api/runs/", "/api/workers/", "/api/health/", "/api/schema/", "/runs/", "/vocabularies/",
                    "/workers/", "/segment/", "/compare/"):
            client = api if url.startswith("/api/") else ui
            response = client.get(url)
            assert response.status_code < 500 or url.endswith("workers/"), (url, response.status_code)
            bodies.append(response.content.decode(errors="replace"))
        workers = api.get("/api/workers/")
        assert workers.status_code == 503 and workers.json()["broker"] == "unavailable"
    handler_text = _formatted_logs(caplog)
    for needle in (secret, broker_password, token):
        assert all(needle not in body for body in bodies), needle[:8]
        assert needle not in handler_text, needle[:8]


def _formatted_logs(caplog: Any) -> str:
    """Records as the project's console handler would write them (the redaction filter applied)."""
    from ovdiff_web.logfilters import RedactSecrets

    redact = RedactSecrets()
    out = []
    for record in caplog.records:
        redact.filter(record)
        out.append(record.getMessage())
    return "\n".join(out)


def test_check_deploy_clean_and_quiet_about_secrets(tmp_path: Path) -> None:
    secret = "Zq" + "9" * 48 + "-deploy-secret-key"
    db_password = "dbPW-never-printed"
    # A deployment's environment: nothing the test session set for itself (the browser tests' async override).
    inherited = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env = {**inherited, "DJANGO_SETTINGS_MODULE": "ovdiff_web.settings",
           "DEBUG": "0", "SECRET_KEY": secret, "ALLOWED_HOSTS": "ovdiff.example.org",
           "DATABASE_URL": f"postgres://ovdiff:{db_password}@127.0.0.1:5432/ovdiff",
           "REDIS_URL": "redis://:redisPW-never-printed@127.0.0.1:6379/11", "OVDIFF_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in output
    for needle in (secret, db_password, "redisPW-never-printed"):
        assert needle not in output
