"""Inputs that used to be 500s are 400s naming the field, and leave nothing behind (rows, folders, names)."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ovdiff_web.core.models import Dataset, Run, VocabularyClass
from tests.service.conftest import demo_zip

pytestmark = pytest.mark.django_db


def _zip_with_classes(classes: bytes) -> io.BytesIO:
    """The demo dataset with its classes.txt replaced."""
    source = zipfile.ZipFile(demo_zip(n_images=2))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in source.infolist():
            data = classes if info.filename.endswith("classes.txt") else source.read(info)
            zf.writestr(info.filename, data)
    out.seek(0)
    out.name = "d.zip"
    return out


@pytest.mark.parametrize("classes", [b"background\ncaf\xe9\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
                                     b"background\nca\x00t\n"])
def test_bad_classes_txt_is_400_and_nothing_is_kept(api: Any, media_root: Path, classes: bytes) -> None:
    response = api.post("/api/datasets/", {"name": "x", "format": "folder", "file": _zip_with_classes(classes)},
                        format="multipart")
    assert response.status_code == 400 and "file" in response.json(), response.content
    assert "classes.txt" in str(response.json()) or "class list" in str(response.json())
    assert not Dataset.objects.exists()
    assert not any((media_root / "datasets").glob("*")) if (media_root / "datasets").exists() else True
    ok = api.post("/api/datasets/", {"name": "x", "format": "folder", "file": demo_zip(n_images=2)},
                  format="multipart")
    assert ok.status_code == 201  # the name is free again


def test_over_long_class_names_are_400(api: Any) -> None:
    long = "x" * 300
    response = api.post("/api/vocabularies/", {"name": "v", "names": f"cat, {long}"}, format="json")
    assert response.status_code == 400 and "200 characters" in response.json()["names"][0]
    vocab = api.post("/api/vocabularies/", {"name": "w"}, format="json").json()["id"]
    response = api.post(f"/api/vocabularies/{vocab}/classes/bulk/", {"names": long}, format="json")
    assert response.status_code == 400 and "names" in response.json()
    response = api.post("/api/classes/", {"vocabulary": vocab, "name": long}, format="json")
    assert response.status_code == 400 and "name" in response.json()
    assert not VocabularyClass.objects.exists()


@pytest.mark.parametrize("body,field", [
    ({"profile": "\ud800"}, "profile"),
    ({"kind": "eval\ud800"}, "kind"),
    ({"settings": {"support": {"prompt_template": "\u0000{}"}}}, "settings.support.prompt_template"),
    ({"settings": {"support\u0000": {}}}, "settings"),
])
def test_nul_and_lone_surrogates_are_400_naming_the_field(api: Any, demo_dataset: dict[str, Any], body: Any,
                                                          field: str) -> None:
    raw = json.dumps({"dataset": demo_dataset["id"], **body})  # ASCII escapes, as a hostile client sends them
    response = api.post("/api/runs/", data=raw, content_type="application/json")
    assert response.status_code == 400 and field in response.json()["detail"], response.content
    assert not Run.objects.exists()


def test_nul_in_upload_fields_and_query_strings_is_400(api: Any) -> None:
    response = api.post("/api/datasets/", {"name": "a\x00b", "format": "folder", "file": demo_zip(n_images=2)},
                        format="multipart")
    assert response.status_code == 400 and "name" in response.json()
    response = api.post("/api/datasets/", {"name": "x", "format": "fol\x00der", "file": demo_zip(n_images=2)},
                        format="multipart")
    assert response.status_code == 400 and "format" in response.json()
    assert api.get("/api/vocabularies/", {"search": "a\x00"}).status_code == 400
    assert not Dataset.objects.exists()


def test_a_name_taken_by_a_parallel_create_is_400_and_leaves_no_folder(api: Any, media_root: Path,
                                                                         monkeypatch: Any, user: Any) -> None:
    """The serializer's check passed for both; the database's unique constraint decides the second one."""
    from ovdiff_web.datasets import serializers

    monkeypatch.setattr(serializers.DatasetCreateSerializer, "validate_name", lambda self, value: value)
    Dataset.objects.create(name="same", format="folder", source="server", root="/elsewhere", created_by=user)
    response = api.post("/api/datasets/", {"name": "same", "format": "folder", "file": demo_zip(n_images=2)},
                        format="multipart")
    assert response.status_code == 400 and "already exists" in response.json()["name"][0]
    assert Dataset.objects.count() == 1
    assert not list((media_root / "datasets").glob("*"))  # the extracted upload was removed
