"""End to end: a real Celery worker subprocess on the local Redis (DB 15) and a file SQLite database shared
with this process; a tiny-profile evaluation queued through the API, polled to completion, then repeated to
show that cached support sets and banks are reused (no class task runs the second time).

About 15 s on an idle 2-core machine; the generous time limits only absorb a machine busy with other work."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.service.conftest import demo_zip

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]
ROOT = Path(__file__).resolve().parents[2]
E2E_REDIS = "redis://127.0.0.1:6379/15"
# Smaller than the tiny profile still: 2 support images, 4 denoising steps, attribution-threshold masks.
FAST_SETTINGS: dict[str, Any] = {"support": {"n_images": 2, "num_inference_steps": 4},
                                 "masks": {"proposer": "attribution", "use_instance_masks": False}}


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(E2E_REDIS, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("local Redis is not running on 127.0.0.1:6379")


@pytest.fixture
def worker(transactional_db: None, media_root: Path, settings: Any, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """``celery worker -Q gpu,cpu --pool=solo`` with the same database file, MEDIA_ROOT and store as the test."""
    _redis_or_skip()
    prefix = f"e2e{os.getpid()}-"  # private queues: concurrent test sessions on this Redis never share tasks
    settings.OVDIFF_QUEUE_PREFIX = prefix
    db_name = connection.settings_dict["NAME"]
    assert db_name and db_name != ":memory:" and "mode=memory" not in str(db_name)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ovdiff_web.settings", "DEBUG": "1",
           "DATABASE_URL": f"sqlite:///{db_name}", "REDIS_URL": E2E_REDIS, "MEDIA_ROOT": str(settings.MEDIA_ROOT),
           "OVDIFF_STORE_DIR": str(settings.OVDIFF_STORE_DIR), "OVDIFF_DATA_DIR": str(tmp_path),
           "OVDIFF_PROFILE": "tiny", "OVDIFF_QUEUE_PREFIX": prefix, "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    log = open(tmp_path / "worker.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ovdiff_web", "worker", "-Q", f"{prefix}gpu,{prefix}cpu", "-c", "1",
         "--pool=solo", "-n", f"e2e-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_worker(proc, tmp_path / "worker.log")
        yield proc
    finally:
        proc.send_signal(signal.SIGQUIT)  # cold shutdown: the test is over and the worker idle (a warm one takes ~2 s)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_for_worker(proc: subprocess.Popen, log: Path, timeout: float = 40.0) -> None:
    from ovdiff_web.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"worker exited early:\n{log.read_text()[-4000:]}")
        if app.control.inspect(timeout=0.5).ping():
            return
        time.sleep(0.3)
    pytest.fail(f"worker did not answer a ping in {timeout} s:\n{log.read_text()[-4000:]}")


def _run_to_completion(api: APIClient, dataset_id: int, log: Path, timeout: float = 180.0) -> dict[str, Any]:
    response = api.post("/api/runs/", {"dataset": dataset_id, "settings": FAST_SETTINGS}, format="json")
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    deadline = time.monotonic() + timeout
    seen_percent: list[float] = []
    while time.monotonic() < deadline:
        progress = api.get(f"/api/runs/{run_id}/progress/").json()
        seen_percent.append(progress["percent"])
        if progress["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"run {run_id} did not finish in {timeout} s:\n{log.read_text()[-4000:]}")
    run = api.get(f"/api/runs/{run_id}/").json()
    assert run["status"] == "succeeded", f"{run['error']}\n{run['traceback']}\n{log.read_text()[-3000:]}"
    assert seen_percent == sorted(seen_percent)  # progress never goes backwards
    return {**run, "final_progress": progress}


def _store_mtimes(store: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}


def test_evaluation_end_to_end_and_cached_rerun(worker: subprocess.Popen, api: APIClient, settings: Any,
                                                tmp_path: Path) -> None:
    from ovdiff_web.core.models import ImageResult, PrototypeBank, SupportImage, SupportSet

    log = tmp_path / "worker.log"
    upload = api.post("/api/datasets/", {"name": "demo", "format": "folder", "file": demo_zip(n_images=3, size=32)},
                      format="multipart")
    assert upload.status_code == 201 and upload.json()["status"] == "ready", upload.content
    dataset_id = upload.json()["id"]

    first = _run_to_completion(api, dataset_id, log)
    assert first["miou"] is not None and 0.0 <= first["miou"] <= 1.0
    assert first["random_weights"] is True
    assert set(first["per_class_iou"]) == {"background", "brick", "grass", "gravel"}
    rows = ImageResult.objects.filter(run_id=first["id"])
    assert rows.count() == 3 and rows.values("image_id").distinct().count() == 3
    from ovdiff_web.runs.images import gt_class_names

    for row in rows:
        assert (Path(settings.MEDIA_ROOT) / row.prediction).is_file() and row.width == 32
        assert row.gt_classes and row.gt_classes == gt_class_names(row.run, row.image_id)  # kept at scoring time
    stages = {s["name"]: s for s in first["final_progress"]["stages"]}
    assert all(s["status"] == "done" and s["percent"] == 100.0 for s in stages.values())
    assert stages["support"]["skipped"] == 0 and stages["segment"]["done"] == 3
    assert SupportSet.objects.filter(status="ready").count() == 3
    assert PrototypeBank.objects.count() >= 3 and SupportImage.objects.count() == 3 * 2
    before = _store_mtimes(Path(settings.OVDIFF_STORE_DIR))
    assert before

    second = _run_to_completion(api, dataset_id, log)
    assert sorted(second["skipped_classes"]) == ["brick", "grass", "gravel"]
    stages2 = {s["name"]: s for s in second["final_progress"]["stages"]}
    assert stages2["support"]["skipped"] == stages2["support"]["total"] == 3
    assert _store_mtimes(Path(settings.OVDIFF_STORE_DIR)) == before  # nothing recomputed or rewritten
    assert second["miou"] == pytest.approx(first["miou"])  # same artifacts, same predictions
    assert log.read_text().count("tasks.artifacts.build_class_artifacts[") == 3 * 2  # received+succeeded, run 1 only
