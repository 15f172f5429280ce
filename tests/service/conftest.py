"""Service test fixtures: users, authenticated API clients, a per-test MEDIA_ROOT, demo datasets."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402


@pytest.fixture
def api(user: Any, media_root: Path) -> APIClient:
    """Token-authenticated client for ``alice``."""
    client = APIClient()
    token = Token.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anon(media_root: Path) -> APIClient:
    return APIClient()


def demo_zip(n_images: int = 4, size: int = 32, extra: dict[str, bytes] | None = None, wrap: str = "demo") -> io.BytesIO:
    """A folder-format dataset zip written by the engine's demo generator (+ optional extra members)."""
    import tempfile

    from engine.evaluation.demo_data import write_demo_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = write_demo_dataset(Path(tmp) / "ds", n_images=n_images, size=size, seed=0)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(Path(root).rglob("*")):
                if p.is_file():
                    zf.write(p, f"{wrap}/{p.relative_to(root).as_posix()}" if wrap else p.relative_to(root).as_posix())
            for name, data in (extra or {}).items():
                zf.writestr(name, data)
    buf.seek(0)
    buf.name = "dataset.zip"
    return buf


@pytest.fixture
def demo_dataset(api: APIClient) -> dict[str, Any]:
    """A ready folder dataset uploaded through the API (4 synthetic images)."""
    response = api.post("/api/datasets/", {"name": "demo", "format": "folder", "file": demo_zip()},
                        format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "ready"
    return response.json()
