"""FiftyOne opens ovdiff's export: an evaluation run (predictions and ground truth, per-image IoU) and a
prediction job, exported through ``/api/integrations/fiftyone/runs/<id>/`` and read back by FiftyOne's own
``fiftyone.utils.data.ImageSegmentationDirectoryImporter`` (FiftyOne in its own venv, ``scripts/install_fiftyone.sh``;
found through OVDIFF_FIFTYONE_PYTHON, default ``.venv-fo/bin/python``; its database is never started): every mask
FiftyOne reads equals the run's label PNG (or ground truth), and every image its input image."""
from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parents[2]
READER = r"""
import json, os, sys
import numpy as np
from fiftyone.utils.data import ImageSegmentationDirectoryImporter

root, labels = sys.argv[1], sys.argv[2]
importer = ImageSegmentationDirectoryImporter(root, labels_path=labels, force_grayscale=True)
out = {}
with importer:
    for image_path, _meta, label in importer:
        stem = os.path.splitext(os.path.basename(image_path))[0]
        out[stem] = {"mask": None if label is None else np.asarray(label.get_mask()).astype(int).tolist(),
                     "image": image_path}
json.dump(out, sys.stdout)
"""


def fiftyone_python() -> Path:
    return Path(os.environ.get("OVDIFF_FIFTYONE_PYTHON", str(ROOT / ".venv-fo" / "bin" / "python")))


def read_with_fiftyone(root: Path, labels: str = "labels") -> dict[str, Any]:
    python = fiftyone_python()
    if not python.is_file():
        pytest.skip(f"FiftyOne is not installed at {python} (run scripts/install_fiftyone.sh, or point "
                    "OVDIFF_FIFTYONE_PYTHON at a Python with fiftyone)")
    env = {**os.environ, "FIFTYONE_DO_NOT_TRACK": "true", "FIFTYONE_DATABASE_URI": "mongodb://127.0.0.1:1"}
    done = subprocess.run([str(python), "-c", READER, str(root), labels], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


def _unzip(content: bytes, dest: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        zf.extractall(dest)
    return dest


@pytest.mark.django_db
@pytest.mark.slow  # seconds (subprocesses, every route or file kind): make test, not test-fast
def test_evaluation_run_with_ground_truth(api: APIClient, user: Any, media_root: Path, tmp_path: Path) -> None:
    from tests.ui.factories import make_demo_dataset, make_finished_run

    from ovdiff_web.runs.images import load_dataset_image, load_ground_truth, load_prediction
    from ovdiff_web.core.models import ImageResult

    run = make_finished_run(make_demo_dataset(tmp_path / "ds", owner=user), user, media_root)
    response = api.get(f"/api/integrations/fiftyone/runs/{run.pk}/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    root = _unzip(response.content, tmp_path / "fo")
    targets = json.loads((root / "mask_targets.json").read_text())
    assert targets == {str(i): n for i, n in enumerate(run.class_names)}
    ious = json.loads((root / "iou.json").read_text())["images"]
    predicted, truth = read_with_fiftyone(root, "labels"), read_with_fiftyone(root, "ground_truth")
    rows = list(ImageResult.objects.filter(run=run).order_by("image_id"))
    assert sorted(predicted) == sorted(truth) == sorted(r.image_id for r in rows)
    for row in rows:
        pred, gt = load_prediction(row), load_ground_truth(run, row.image_id)
        assert np.array_equal(np.asarray(predicted[row.image_id]["mask"]), pred)
        assert np.array_equal(np.asarray(truth[row.image_id]["mask"]), gt)
        image = np.asarray(Image.open(predicted[row.image_id]["image"]).convert("RGB"))
        assert np.array_equal(image, load_dataset_image(run, row.image_id))
        assert ious[row.image_id]["miou"] == pytest.approx(row.iou, abs=1e-6)
    first, last = rows[0].image_id, rows[-1].image_id
    assert ious[first]["miou"] == 1.0 and ious[last]["miou"] < 1.0  # image i is shifted by 3*i pixels


@pytest.mark.django_db
@pytest.mark.slow  # seconds (subprocesses, every route or file kind): make test, not test-fast
def test_prediction_job(api: APIClient, user: Any, media_root: Path, tmp_path: Path) -> None:
    from engine.images import save_label_png
    from ovdiff_web.core.models import ImageResult, Run

    images = media_root / "jobs" / "images"
    images.mkdir(parents=True)
    run = Run.objects.create(kind="segmentation", profile="tiny", status="succeeded", created_by=user,
                             class_names=["background", "cat", "sky"], image_root=str(images),
                             image_ids=["a.png", "sub/b.png"])
    rng = np.random.default_rng(3)
    labels = {}
    for image_id in run.image_ids:
        (images / image_id).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (24, 30, 3), dtype=np.uint8)).save(images / image_id)
        labels[image_id] = rng.integers(0, 3, (24, 30)).astype(np.uint8)
        rel = f"runs/{run.pk}/pred/{image_id.replace('/', '_')}.png"
        save_label_png(labels[image_id], media_root / rel)
        ImageResult.objects.create(run=run, image_id=image_id, prediction=rel, width=30, height=24)
    root = _unzip(api.get(f"/api/integrations/fiftyone/runs/{run.pk}/").content, tmp_path / "fo")
    assert not (root / "ground_truth").exists()
    assert json.loads((root / "iou.json").read_text())["images"] == {"a.png": None, "sub_b.png": None}
    read = read_with_fiftyone(root)
    assert sorted(read) == ["a.png", "sub_b.png"]
    for image_id, expected in labels.items():
        got = read[image_id.replace("/", "_")]
        assert np.array_equal(np.asarray(got["mask"]), expected)
        assert np.array_equal(np.asarray(Image.open(got["image"])), np.asarray(Image.open(images / image_id)))
