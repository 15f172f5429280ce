"""One path from class text to mIoU: the same small dataset evaluated by ``python -m engine evaluate`` and by a
real Celery worker gives byte-identical prediction and overlay PNGs and the same metrics.json, with and without
a background class. Both roads call the engine's ``evaluate_sample`` / ``write_prediction`` /
``metrics_document``; this test is what keeps them from drifting apart again."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from tests.service.test_e2e import ROOT, _run_to_completion, worker  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]
CLI_SETTINGS = ["support.n_images=2", "support.num_inference_steps=4", "masks.proposer=attribution",
                "masks.use_instance_masks=false"]


def _dataset_zip(with_background: bool) -> io.BytesIO:
    """The demo dataset; without background, "background" leaves classes.txt and its pixels become ignore."""
    from engine.evaluation.demo_data import write_demo_dataset
    from engine.images import load_label_png, save_label_png

    with tempfile.TemporaryDirectory() as tmp:
        root = write_demo_dataset(Path(tmp) / "ds", n_images=2, size=32, seed=0)
        if not with_background:
            lines = (root / "classes.txt").read_text().splitlines()
            (root / "classes.txt").write_text("\n".join(lines[1:]) + "\n")
            for p in (root / "masks").glob("*.png"):
                lab = load_label_png(p)
                save_label_png(np.where(lab == 0, 255, lab - 1).astype(np.uint8), p)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(root).as_posix())
    buf.seek(0)
    buf.name = "dataset.zip"
    return buf


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


@pytest.mark.parametrize("with_background", [True, False], ids=["with-background", "without-background"])
def test_cli_and_worker_write_the_same_predictions_and_metrics(worker: Any, api: APIClient, settings: Any,  # noqa: F811
                                                                tmp_path: Path, with_background: bool) -> None:
    from ovdiff_web.core.models import Dataset

    upload = api.post("/api/datasets/", {"name": "one-path", "format": "folder",
                                         "file": _dataset_zip(with_background)}, format="multipart")
    assert upload.status_code == 201 and upload.json()["status"] == "ready", upload.content
    dataset = Dataset.objects.get(pk=upload.json()["id"])
    run = _run_to_completion(api, dataset.pk, tmp_path / "worker.log")
    served = Path(settings.MEDIA_ROOT) / "runs" / str(run["id"])

    out = tmp_path / "cli"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "engine", "evaluate", "--dataset", "folder", "--root", dataset.root,
           "--split", dataset.split or "val", "--profile", "tiny", "--store", str(settings.OVDIFF_STORE_DIR),
           "--out", str(out), "--quiet"] + [a for s in CLI_SETTINGS for a in ("--set", s)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    for kind in ("pred", "overlay"):
        cli, service = _files(out / kind), _files(served / kind)
        assert len(cli) == 2 and cli.keys() == service.keys()
        assert all(cli[name] == service[name] for name in cli), kind
    cli_metrics = json.loads((out / "metrics.json").read_text())
    assert cli_metrics == json.loads((served / "metrics.json").read_text())
    assert len(cli_metrics["class_names"]) == (4 if with_background else 3)
    assert run["miou"] == cli_metrics["miou"]
