"""What ovdiff asks Label Studio: a task (to check an annotation's task exists) and a task's image, always from
the connection's own Label Studio URL with its access token (never another host: task data cannot make ovdiff
fetch an arbitrary URL). Bounded in time and size.

The connection's token is either a legacy token (sent as ``Authorization: Token <token>``) or a personal access
token: a JWT refresh token that ovdiff exchanges at Label Studio's ``POST /api/token/refresh/`` for a short-lived
access token sent as ``Authorization: Bearer <access>``, kept (per process) until a minute before it expires and
exchanged again when Label Studio answers 401."""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

TIMEOUT = (3.0, 20.0)
EXPIRY_MARGIN_S = 60.0  # exchange the refresh token again this long before the access token expires
_access_tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (url, sha256 of the refresh token) -> (access, exp)
_lock = threading.Lock()


class LabelStudioUnavailable(RuntimeError):
    """Label Studio did not answer as expected (down, wrong token, a file it cannot serve)."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


def _jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT (not verified: Label Studio checks its own tokens), None for anything else."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        return None
    try:
        decoded = [json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in parts[:2]]
    except (ValueError, UnicodeDecodeError):
        return None
    header, claims = decoded
    if not isinstance(header, dict) or "alg" not in header or not isinstance(claims, dict):
        return None
    return claims


def is_personal_access_token(token: str) -> bool:
    """A personal access token is a JWT refresh token; a legacy token is an opaque string."""
    claims = _jwt_claims(token)
    return claims is not None and claims.get("token_type", "refresh") == "refresh"


def _cache_key(connection: Any) -> tuple[str, str]:
    return (connection.label_studio_url.rstrip("/"),
            hashlib.sha256(connection.access_token.strip().encode("utf-8")).hexdigest())


def _exchange(connection: Any) -> str:
    """A fresh access token for the connection's personal access token (``POST /api/token/refresh/``)."""
    url = resolve(connection, "/api/token/refresh/")
    try:
        response = requests.post(url, json={"refresh": connection.access_token.strip()}, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise LabelStudioUnavailable(f"Label Studio at {connection.label_studio_url} did not answer: {exc}") from None
    if response.status_code in (400, 401, 403):
        raise LabelStudioUnavailable("Label Studio refused the connection's personal access token (HTTP "
                                     f"{response.status_code}: expired, revoked, or personal access tokens are "
                                     "disabled in its organization); update it in ovdiff")
    try:
        access = response.json()["access"] if response.status_code == 200 else None
    except (ValueError, KeyError, TypeError):
        access = None
    if not isinstance(access, str) or not access:
        raise LabelStudioUnavailable(f"Label Studio answered HTTP {response.status_code} to the token refresh "
                                     "without an access token")
    exp = (_jwt_claims(access) or {}).get("exp")
    expires = float(exp) if isinstance(exp, (int, float)) else time.time() + 300.0
    with _lock:
        _access_tokens[_cache_key(connection)] = (access, expires)
    return access


def _headers(connection: Any, *, fresh: bool = False) -> dict[str, str]:
    """The Authorization header for the connection's token; ``fresh`` exchanges a personal access token again
    (after a 401) instead of using the kept access token."""
    token = connection.access_token.strip()
    if not is_personal_access_token(token):
        return {"Authorization": f"Token {token}"}
    with _lock:
        kept = None if fresh else _access_tokens.get(_cache_key(connection))
    if kept is None or kept[1] - EXPIRY_MARGIN_S <= time.time():
        return {"Authorization": f"Bearer {_exchange(connection)}"}
    return {"Authorization": f"Bearer {kept[0]}"}


def _send(connection: Any, method: str, url: str, **kwargs: Any) -> Any:
    """``requests.request`` with the connection's token; a 401 with a personal access token is retried once with
    a freshly exchanged access token (the kept one was revoked or expired early)."""
    response = requests.request(method, url, headers=_headers(connection), **kwargs)
    if response.status_code == 401 and is_personal_access_token(connection.access_token):
        response.close()
        response = requests.request(method, url, headers=_headers(connection, fresh=True), **kwargs)
    return response


def resolve(connection: Any, url: str) -> str:
    """``url`` (relative like ``/data/upload/1/x.png``, or absolute on the connection's host) as an absolute URL
    on the connection's Label Studio; ValueError for any other host or scheme."""
    base = connection.label_studio_url.rstrip("/") + "/"
    if not isinstance(url, str) or not url:
        raise ValueError("the task has no image URL")
    full = urljoin(base, url)
    if urlsplit(full)[:2] != urlsplit(base)[:2]:
        raise ValueError(f"{url[:200]}: not served by the connected Label Studio ({connection.label_studio_url}); "
                         "ovdiff fetches images only from there (use its local or cloud storage)")
    return full


def get_task(connection: Any, task_id: int) -> dict[str, Any] | None:
    """The task as Label Studio has it; None when Label Studio says it does not exist."""
    url = resolve(connection, f"/api/tasks/{int(task_id)}/")
    try:
        response = _send(connection, "GET", url, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise LabelStudioUnavailable(f"Label Studio at {connection.label_studio_url} did not answer: {exc}") from None
    if response.status_code == 404:
        return None
    if response.status_code in (401, 403):
        raise LabelStudioUnavailable("Label Studio refused the connection's access token "
                                     f"(HTTP {response.status_code}); update it in ovdiff", status=502)
    if response.status_code != 200:
        raise LabelStudioUnavailable(f"Label Studio answered HTTP {response.status_code} for task {task_id}")
    return response.json()


def fetch_image(connection: Any, url: str) -> bytes:
    """The bytes of a task's image (at most ``OVDIFF_MAX_UPLOAD_MB``)."""
    full = resolve(connection, url)
    limit = settings.OVDIFF_MAX_UPLOAD_MB * 1024 * 1024
    try:
        with _send(connection, "GET", full, timeout=TIMEOUT, stream=True) as response:
            if response.status_code != 200:
                raise LabelStudioUnavailable(f"Label Studio answered HTTP {response.status_code} for the image "
                                             f"{url[:200]}" + (" (check the access token)"
                                                               if response.status_code in (401, 403) else ""))
            data = bytearray()
            for chunk in response.iter_content(65536):
                data += chunk
                if len(data) > limit:
                    raise LabelStudioUnavailable(f"image {url[:200]} is larger than {settings.OVDIFF_MAX_UPLOAD_MB} "
                                                 "MB (OVDIFF_MAX_UPLOAD_MB)", status=413)
    except requests.RequestException as exc:
        raise LabelStudioUnavailable(f"could not fetch {url[:200]} from Label Studio: {exc}") from None
    return bytes(data)


def sign_webhooks(connection: Any, project: int, authorization: str) -> int:
    """Give Label Studio's webhooks of ``project`` that point at this connection the connection's Basic auth
    (Label Studio creates the ML backend's webhook without credentials, and ovdiff refuses unsigned webhooks).
    Best effort (run after /setup answered): returns how many were signed."""
    suffix = f"/integrations/label-studio/{connection.pk}/webhook"
    try:
        listed = _send(connection, "GET", resolve(connection, f"/api/webhooks/?project={int(project)}"),
                       timeout=(2.0, 10.0))
        hooks = listed.json() if listed.status_code == 200 else []
        signed = 0
        for hook in hooks if isinstance(hooks, list) else []:
            url, headers = str(hook.get("url", "")), hook.get("headers") or {}
            if url.rstrip("/").endswith(suffix) and headers.get("Authorization") != authorization:
                _send(connection, "PATCH", resolve(connection, f"/api/webhooks/{int(hook['id'])}/"),
                      json={"headers": {**headers, "Authorization": authorization}}, timeout=(2.0, 10.0))
                signed += 1
        return signed
    except (requests.RequestException, LabelStudioUnavailable, ValueError, KeyError, TypeError):
        return 0
