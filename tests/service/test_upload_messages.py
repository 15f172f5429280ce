"""Refused uploads name the file once (not ``corrupt.png: corrupt.png: ...``) and never the server's temporary
path; a decompression bomb's message states the one limit that applies, with its setting."""
from __future__ import annotations

import io
import json
import re
import struct
import zlib
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from ovdiff_web.vocabularies.models import VocabularyClass
from tests.service.conftest import demo_zip

pytestmark = pytest.mark.django_db
CORRUPT = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # a PNG signature, then nothing usable


def bomb_png() -> bytes:
    """A valid PNG header declaring 30000 x 30000 pixels (900 MP) with almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def messages(response: Any) -> list[str]:
    """Every message of a refusal: ``detail`` and each field's messages."""
    body = response.json()
    out = [body["detail"]] if isinstance(body.get("detail"), str) else []
    out += [m for v in body.values() if isinstance(v, list) for m in v if isinstance(m, str)]
    assert out, body
    return out


def named_once(response: Any, name: str) -> None:
    for message in messages(response):
        assert message.count(name) == 1, message
        assert "/tmp" not in message and "raw-0" not in message and "staging" not in message, message


def test_a_refused_prediction_upload_names_the_file_once(api: APIClient) -> None:
    for name, data in (("corrupt.png", CORRUPT), ("notes.png", b"just some notes, not an image\n")):
        response = api.post("/api/predictions/", {"files": [SimpleUploadedFile(name, data)], "classes": "cat",
                                                  "profile": "tiny"}, format="multipart")
        assert response.status_code == 400, response.content
        named_once(response, name)


def test_a_bomb_states_one_limit_with_its_setting(api: APIClient, settings: Any) -> None:
    response = api.post("/api/predictions/", {"files": [SimpleUploadedFile("bomb.png", bomb_png())],
                                              "classes": "cat", "profile": "tiny"}, format="multipart")
    assert response.status_code in (400, 413), response.content
    named_once(response, "bomb.png")
    for message in messages(response):
        assert "setting OVDIFF_PREDICT_MAX_PIXELS" in message and "MAX_IMAGE_PIXELS" not in message, message
        assert "900000000" in message  # what the file declares
        limits = [n for n in re.findall(r"\d{6,}", message) if n != "900000000"]
        assert limits == [str(settings.OVDIFF_PREDICT_MAX_PIXELS)], message  # one limit, the one that applies


def test_a_refused_support_upload_names_the_file_once(api: APIClient) -> None:
    vocab = api.post("/api/vocabularies/", {"name": "pets", "classes": ["cat"]}, format="json")
    assert vocab.status_code == 201, vocab.content
    cls = VocabularyClass.objects.get(vocabulary_id=vocab.json()["id"], name="cat")
    response = api.post(f"/api/classes/{cls.pk}/support/images/",
                        {"images": [SimpleUploadedFile("corrupt.png", CORRUPT)]}, format="multipart")
    assert response.status_code == 400, response.content
    named_once(response, "corrupt.png")


def test_a_dataset_zip_with_a_corrupt_image_names_it_once(api: APIClient) -> None:
    archive = demo_zip()
    with zipfile.ZipFile(archive) as zf:
        image = next(n for n in zf.namelist() if "/images/" in n)
        members = {n: zf.read(n) for n in zf.namelist()}
    members[image] = CORRUPT
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    buf.seek(0)
    buf.name = "dataset.zip"
    response = api.post("/api/datasets/", {"name": "broken", "format": "folder", "file": buf}, format="multipart")
    assert response.status_code in (201, 400), response.content
    errors = response.json().get("ingest_errors") or []
    stem = image.rsplit("/", 1)[-1]
    bad = [e for e in errors if stem in e["item"]]
    assert bad, response.json()
    for entry in bad:  # the table shows item | error: the error does not name the file again
        assert stem not in entry["error"] and "not a readable image" in entry["error"], entry
