"""Prediction jobs end to end: a real Celery worker subprocess on the local Redis (the ``worker`` fixture of
test_e2e), two images submitted through ``POST /api/predictions/``, polled to completion, exported as COCO JSON;
then a second job with the same vocabulary, whose classes are not rebuilt (cached banks) on the warm worker."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.service.test_e2e import FAST_SETTINGS, worker  # noqa: F401  (the real worker fixture)
from tests.service.test_predictions import png

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]


def _job_to_completion(api: APIClient, names: list[str], log: Path, timeout: float = 240.0) -> dict[str, Any]:
    import json

    response = api.post("/api/predictions/", {"files": [png(n, seed=i) for i, n in enumerate(names)],
                                              "classes": "brick, grass", "stuff": "grass",
                                              "settings": json.dumps(FAST_SETTINGS)}, format="multipart")
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = api.get(f"/api/predictions/{job_id}/progress/").json()
        if progress["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"job {job_id} did not finish in {timeout} s:\n{log.read_text()[-4000:]}")
    job = api.get(f"/api/predictions/{job_id}/").json()
    assert job["status"] == "succeeded", f"{job['error']}\n{log.read_text()[-3000:]}"
    return job


def test_two_images_on_a_real_worker_then_a_warm_second_job(worker: subprocess.Popen,  # noqa: F811
                                                            api: APIClient, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    first = _job_to_completion(api, ["a.png", "b.png"], log)
    results = api.get(f"/api/predictions/{first['id']}/results/").json()["results"]
    assert [r["image_id"] for r in results] == ["a.png", "b.png"] and all(r["pixel_share"] for r in results)
    coco = api.get(f"/api/predictions/{first['id']}/coco.json/").json()
    assert len(coco["images"]) == 2 and {c["name"] for c in coco["categories"]} == {"brick", "grass"}
    assert all(a["segmentation"]["counts"] and a["area"] > 0 for a in coco["annotations"])
    assert "tasks.segment.segment_shard" in log.read_text()  # the evaluations' shard task, on the gpu queue

    second = _job_to_completion(api, ["c.png"], log)
    assert sorted(second["skipped_classes"]) == ["brick", "grass"]  # cached banks: no class task queued again
    assert log.read_text().count("tasks.artifacts.build_class_artifacts[") == 2 * 2  # received+succeeded, job 1
