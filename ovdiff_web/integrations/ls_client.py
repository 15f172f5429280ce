"""What ovdiff asks Label Studio: a task (to check an annotation's task exists) and a task's image, always from
the connection's own Label Studio URL with its access token (never another host: task data cannot make ovdiff
fetch an arbitrary URL). Bounded in time and size."""
from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

TIMEOUT = (3.0, 20.0)


class LabelStudioUnavailable(RuntimeError):
    """Label Studio did not answer as expected (down, wrong token, a file it cannot serve)."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


def _headers(connection: Any) -> dict[str, str]:
    return {"Authorization": f"Token {connection.access_token}"}


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
        response = requests.get(url, headers=_headers(connection), timeout=TIMEOUT)
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
        with requests.get(full, headers=_headers(connection), timeout=TIMEOUT, stream=True) as response:
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
        listed = requests.get(resolve(connection, f"/api/webhooks/?project={int(project)}"),
                              headers=_headers(connection), timeout=(2.0, 10.0))
        hooks = listed.json() if listed.status_code == 200 else []
        signed = 0
        for hook in hooks if isinstance(hooks, list) else []:
            url, headers = str(hook.get("url", "")), hook.get("headers") or {}
            if url.rstrip("/").endswith(suffix) and headers.get("Authorization") != authorization:
                requests.patch(resolve(connection, f"/api/webhooks/{int(hook['id'])}/"), headers=_headers(connection),
                               json={"headers": {**headers, "Authorization": authorization}}, timeout=(2.0, 10.0))
                signed += 1
        return signed
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return 0
