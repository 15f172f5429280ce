"""Nothing left behind: stale staging files and rows stuck ingesting are swept, deletes remove their files, padding
cannot bypass the zip ratio check, and a symlink inside a registered dataset root that leaves it is refused."""
from __future__ import annotations

import io
import os
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from ovdiff_web.core.models import Dataset
from ovdiff_web.ops import cleanup
from tests.service.conftest import demo_zip

pytestmark = pytest.mark.django_db


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_sweep_removes_stale_staging_and_stuck_ingests_only(api: Any, media_root: Path, settings: Any,
                                                              user: Any) -> None:
    settings.OVDIFF_STALE_AFTER_S = 3600
    tmp = media_root / "tmp"
    (tmp / "upload-old").mkdir(parents=True)
    (tmp / "upload-old" / "big.png").write_bytes(b"x" * 1000)
    (tmp / "upload-new").mkdir()
    spool = Path(settings.FILE_UPLOAD_TEMP_DIR)
    spool.mkdir(parents=True, exist_ok=True)
    (spool / "killed.upload.zip").write_bytes(b"partial")
    support = media_root / "user_support" / "7" / ".upload-abc"
    support.mkdir(parents=True)
    for path in (tmp / "upload-old", spool / "killed.upload.zip", support):
        _age(path, 7200)
    body = api.post("/api/datasets/", {"name": "stuck", "format": "folder", "file": demo_zip(n_images=2)},
                    format="multipart").json()
    stuck = Dataset.objects.get(pk=body["id"])
    folder = Path(stuck.root)
    Dataset.objects.filter(pk=stuck.pk).update(status="ingesting", created_at=timezone.now() - timedelta(hours=2))
    fresh = Dataset.objects.create(name="fresh", format="folder", source="server", root="/x", status="ingesting",
                                   created_by=user)
    call_command("ovdiff_cleanup")  # what the web container runs before gunicorn
    assert not (tmp / "upload-old").exists() and (tmp / "upload-new").exists()
    assert not (spool / "killed.upload.zip").exists() and not support.exists()
    assert not Dataset.objects.filter(pk=stuck.pk).exists() and not folder.exists()
    assert Dataset.objects.filter(pk=fresh.pk).exists()  # maybe still ingesting: left alone
    assert api.post("/api/datasets/", {"name": "stuck", "format": "folder", "file": demo_zip(n_images=2)},
                    format="multipart").status_code == 201  # the name is free again


def test_deletes_remove_their_files(api: Any, media_root: Path) -> None:
    from ovdiff_web.core.models import VocabularyClass

    body = api.post("/api/datasets/", {"name": "d", "format": "folder", "file": demo_zip(n_images=2)},
                    format="multipart").json()
    folder = Path(Dataset.objects.get(pk=body["id"]).root)
    assert folder.is_dir()
    assert api.delete(f"/api/datasets/{body['id']}/").status_code == 204
    assert not folder.exists()
    vocab = api.post("/api/vocabularies/", {"name": "v", "names": "cat, dog"}, format="json").json()
    own = []
    for cls in VocabularyClass.objects.filter(vocabulary_id=vocab["id"]):
        path = media_root / "user_support" / str(cls.pk) / "abc"
        path.mkdir(parents=True)
        (path / "000.png").write_bytes(b"png")
        own.append(path.parent)
    assert api.delete(f"/api/classes/{VocabularyClass.objects.first().pk}/").status_code == 204
    assert not own[0].exists() and own[1].exists()
    assert api.delete(f"/api/vocabularies/{vocab['id']}/").status_code == 204
    assert not own[1].exists()


def test_padding_cannot_bypass_the_compression_ratio_check(api: Any, media_root: Path) -> None:
    """2 MB of random bytes keep the whole-archive ratio low; 1 MB zero files sit at the per-file threshold."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        source = zipfile.ZipFile(demo_zip(n_images=2))
        for info in source.infolist():
            zf.writestr(info.filename, source.read(info))
        zf.writestr("demo/padding.bin", os.urandom(2 * 1024 * 1024))
        for i in range(6):
            zf.writestr(f"demo/zeros{i}.bin", bytes(1024 * 1024))
    buf.seek(0)
    buf.name = "padded.zip"
    response = api.post("/api/datasets/", {"name": "p", "format": "folder", "file": buf}, format="multipart")
    assert response.status_code == 400 and "zip bomb" in response.json()["file"][0]
    assert not Dataset.objects.exists() and not any((media_root / "datasets").glob("*"))


def test_symlink_leaving_a_registered_root_is_refused(api: Any, settings: Any, tmp_path: Path) -> None:
    from engine.evaluation.demo_data import write_demo_dataset

    allowed = tmp_path / "allowed"
    root = Path(write_demo_dataset(allowed / "ds", n_images=3, size=32, seed=0))
    outside = tmp_path / "secret.png"
    first = sorted((root / "images").iterdir())[0]
    outside.write_bytes(first.read_bytes())
    first.unlink()
    first.symlink_to(outside)
    settings.OVDIFF_DATASET_ROOTS = [allowed.resolve()]
    body = api.post("/api/datasets/", {"name": "s", "format": "folder", "path": str(root)}, format="json").json()
    assert body["status"] == "ready" and body["image_count"] == 2
    assert any("symbolic link" in e["error"] for e in body["ingest_errors"])
