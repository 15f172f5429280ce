"""Datasets pages: list, detail (per-file ingest errors, class list, import into a vocabulary), zip upload and
server-path registration; refused input shows the error next to its field, keeps what was typed, stores nothing."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ovdiff_web.core.models import Dataset, Vocabulary

pytestmark = pytest.mark.django_db


def _zip_dir(root: Path, wrap: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, f"{wrap}{p.relative_to(root).as_posix()}")
    return buf.getvalue()


def _demo_zip(tmp_path: Path, n: int = 3, corrupt: bool = False) -> bytes:
    from engine.evaluation.demo_data import write_demo_dataset

    root = write_demo_dataset(tmp_path / "src", n_images=n, size=24, seed=0)
    if corrupt:
        (root / "images" / "demo_001.png").write_bytes(b"not a png at all")
    return _zip_dir(root, wrap="mydata/")


def _voc_zip() -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("a", "b"):
            img = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(img, format="JPEG")
            zf.writestr(f"VOC2012/JPEGImages/{name}.jpg", img.getvalue())
            labels = np.zeros((20, 20), dtype=np.uint8)
            labels[5:15, 5:15] = 15  # person
            png = io.BytesIO()
            Image.fromarray(labels, mode="L").save(png, format="PNG")
            zf.writestr(f"VOC2012/SegmentationClass/{name}.png", png.getvalue())
        zf.writestr("VOC2012/ImageSets/Segmentation/val.txt", "a\nb\n")
    return buf.getvalue()


def _upload(ui: Any, data: bytes, *, name: str = "mine", fmt: str = "folder", filename: str = "data.zip") -> Any:
    f = io.BytesIO(data)
    f.name = filename
    return ui.post("/datasets/upload/", {"name": name, "format": fmt, "split": "val", "protocol": "", "archive": f})


def _nothing_stored(media_root: Path) -> None:
    assert not Dataset.objects.filter(name="mine").exists()
    assert not any((media_root / "datasets").glob("*")) if (media_root / "datasets").exists() else True
    assert not any((media_root / "tmp").glob("*")) if (media_root / "tmp").exists() else True


def test_list_shows_columns_and_nav(ui: Any, dataset: Dataset, user: Any) -> None:
    Dataset.objects.filter(pk=dataset.pk).update(created_by=user,
                                                 ingest_errors=[{"item": "x.png", "error": "broken"}])
    html = ui.get("/datasets/").content.decode()
    assert 'href="/datasets/"' in html and ">Datasets</a>" in html
    row = html[html.index('data-dataset="demo"'):]
    row = row[: row.index("</tr>")]
    for text in ("demo", "folder", "val", str(dataset.image_count), "ready", "alice", f"/datasets/{dataset.pk}/#errors"):
        assert text in row, text
    assert ">1</a>" in row  # ingest error count


def test_upload_folder_zip_then_detail_and_import(ui: Any, media_root: Path, tmp_path: Path) -> None:
    response = _upload(ui, _demo_zip(tmp_path, corrupt=True))
    assert response.status_code == 302, response.content.decode()[:2000]
    ds = Dataset.objects.get(name="mine")
    assert ds.status == Dataset.Status.READY and ds.image_count == 2 and ds.source == Dataset.Source.UPLOAD
    assert Path(ds.root).resolve().is_relative_to(media_root.resolve())
    html = ui.get(response["Location"]).content.decode()
    assert "demo_001" in html  # the unreadable file is listed with its error
    for name in ds.class_names:
        assert name in html
    assert "Import into a vocabulary" in html
    # into a new vocabulary named after the dataset, then again: a second, distinct name
    r = ui.post(f"/datasets/{ds.pk}/import/", {"vocabulary": ""})
    vocab = Vocabulary.objects.get(name="mine")
    assert r["Location"] == f"/vocabularies/{vocab.pk}/"
    assert sorted(vocab.classes.values_list("name", flat=True)) == sorted(
        n for n in ds.class_names if n != "background")
    ui.post(f"/datasets/{ds.pk}/import/", {"vocabulary": ""})
    assert Vocabulary.objects.filter(name="mine (2)").exists()
    # into an existing one: nothing duplicated
    ui.post(f"/datasets/{ds.pk}/import/", {"vocabulary": vocab.pk})
    assert vocab.classes.count() == len([n for n in ds.class_names if n != "background"])


def test_upload_voc_layout(ui: Any, media_root: Path) -> None:
    response = _upload(ui, _voc_zip(), fmt="voc")
    assert response.status_code == 302, response.content.decode()[:2000]
    ds = Dataset.objects.get(name="mine")
    assert ds.status == Dataset.Status.READY and ds.image_count == 2 and "person" in ds.class_names


def test_zip_slip_is_refused_next_to_field_and_input_kept(ui: Any, media_root: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.txt", "x")
    response = _upload(ui, buf.getvalue(), name="mine")
    assert response.status_code == 400
    html = response.content.decode()
    archive_field = html[html.index('id="upload_archive"'):]
    assert "&#x27;..&#x27; in archive path" in archive_field[: archive_field.index("</div>")]
    assert 'value="mine"' in html
    _nothing_stored(media_root)
    assert not (media_root.parent / "evil.txt").exists()


def test_oversized_upload_is_refused(ui: Any, media_root: Path, settings: Any) -> None:
    settings.OVDIFF_MAX_UPLOAD_MB = 1
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("images/big.bin", os.urandom(1_300_000))
    response = _upload(ui, buf.getvalue())
    assert response.status_code == 400
    assert "the limit is 1 MB" in response.content.decode()
    _nothing_stored(media_root)


def test_wrong_format_is_refused_and_nothing_kept(ui: Any, media_root: Path, tmp_path: Path) -> None:
    response = _upload(ui, _demo_zip(tmp_path), fmt="voc")
    assert response.status_code == 400
    html = response.content.decode()
    fmt_field = html[html.index('id="upload_format"'):]
    assert "check the format" in fmt_field[: fmt_field.index("</div>")]
    assert 'value="mine"' in html
    _nothing_stored(media_root)


def test_not_a_zip_and_duplicate_name(ui: Any, media_root: Path, dataset: Dataset) -> None:
    html = _upload(ui, b"plain text, no zip").content.decode()
    assert "not a readable zip archive" in html
    response = _upload(ui, b"whatever", name="demo")
    assert response.status_code == 400 and "already exists" in response.content.decode()
    _nothing_stored(media_root)


def test_register_server_path_confined_to_roots(ui: Any, settings: Any, tmp_path: Path) -> None:
    from engine.evaluation.demo_data import write_demo_dataset

    allowed = tmp_path / "roots"
    write_demo_dataset(allowed / "demo2", n_images=2, size=24, seed=1)
    outside = write_demo_dataset(tmp_path / "elsewhere", n_images=2, size=24, seed=1)
    settings.OVDIFF_DATASET_ROOTS = [allowed.resolve()]
    page = ui.get("/datasets/").content.decode()
    assert str(allowed.resolve()) in page  # the allowed roots are shown
    form = {"name": "srv", "format": "folder", "split": "val", "protocol": ""}
    for bad in (str(outside), str(allowed / ".." / "elsewhere"), str(allowed / "missing")):
        response = ui.post("/datasets/register/", {**form, "path": bad})
        assert response.status_code == 400, bad
        html = response.content.decode()
        path_field = html[html.index('id="path_path"'):]
        assert "errorlist" in path_field[: path_field.index("</div>")]
        assert f'value="{bad}"' in html and 'value="srv"' in html
    assert not Dataset.objects.filter(name="srv").exists()
    response = ui.post("/datasets/register/", {**form, "path": str(allowed / "demo2")})
    assert response.status_code == 302
    ds = Dataset.objects.get(name="srv")
    assert ds.status == Dataset.Status.READY and ds.source == Dataset.Source.SERVER and ds.image_count == 2


def test_missing_dataset_is_404(ui: Any) -> None:
    assert ui.get("/datasets/999999/").status_code == 404
    assert ui.post("/datasets/999999/import/", {"vocabulary": ""}).status_code == 404
