"""Worker killed: one tiny-profile evaluation survives a SIGKILL of its worker in each stage in turn.

Five worker processes on Redis DB 10: the first four each carry a fault point (``tasks.base.fault_point``, a
real sleep) in one stage (mid-denoising, between banks, mid-shard, before metrics) and are SIGKILLed as soon as
they reach it; the fifth finishes the run. The outcome must equal an undisturbed run of the same evaluation computed
from scratch afterwards (artifact store emptied): same metrics, same per-image rows (none duplicated),
byte-identical predictions.
"""
from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import (FAST_SETTINGS, KILL_REDIS, redis_or_skip, run_outcome, upload_demo,
                                        wait_finished)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(400)]
KILL_STAGES = ("support", "banks", "segment", "metrics")


def _create_run(api: Any, dataset_id: int) -> int:
    response = api.post("/api/runs/", {"dataset": dataset_id, "settings": FAST_SETTINGS}, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def _wait_for_fault(marker: Path, proc: Any, api: Any, run_id: int, percents: list[float], logs: Any,
                    timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists():
            return
        if proc.poll() is not None:
            pytest.fail(f"worker exited before reaching {marker.name}:\n{logs()}")
        progress = api.get(f"/api/runs/{run_id}/progress/").json()
        if progress["status"] in ("failed", "cancelled"):
            pytest.fail(f"run {progress['status']} before {marker.name}: {progress['error']}\n{logs()}")
        percents.append(progress["percent"])
        time.sleep(0.2)
    pytest.fail(f"{marker.name} not reached in {timeout} s:\n{logs()}")


def _complete_artifacts(store: Path) -> list[Path]:
    """Published artifact directories (``<kind>/<xx>/<key>``), excluding temp/trash leftovers of a kill."""
    return [d for d in store.glob("*/*/*") if d.is_dir() and not d.name.startswith(".")]


def test_run_survives_sigkill_in_every_stage(workers_factory: Any, api: Any, settings: Any, tmp_path: Path) -> None:
    from ovdiff_web.core.models import ImageResult, Run, RunStage

    redis_or_skip(KILL_REDIS)
    t0 = time.monotonic()
    settings.OVDIFF_SHARD_SIZE = 2
    workers = workers_factory(KILL_REDIS)
    dataset_id = upload_demo(api, n_images=4)
    media = Path(settings.MEDIA_ROOT)
    store = Path(settings.OVDIFF_STORE_DIR)

    # The same evaluation, its worker SIGKILLed once in each stage.
    fault_dir = tmp_path / "faults"
    fault_dir.mkdir()
    percents: list[float] = []
    run_id: int | None = None
    images_at_kill: dict[str, int] = {}
    for stage in KILL_STAGES:
        proc = workers.start({"OVDIFF_FAULT_STAGE": stage, "OVDIFF_FAULT_DIR": str(fault_dir),
                              "OVDIFF_FAULT_SLEEP_S": "300"})
        if run_id is None:
            run_id = _create_run(api, dataset_id)
        _wait_for_fault(fault_dir / f"{stage}.reached", proc, api, run_id, percents, workers.log_text)
        assert RunStage.objects.get(run_id=run_id, name=stage).status == "running", stage
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        images_at_kill[stage] = ImageResult.objects.filter(run_id=run_id).count()
        print(f"killed in {stage} at {time.monotonic() - t0:.1f} s")
        assert Run.objects.get(pk=run_id).status == "running"  # nothing marked failed by a lost worker

    assert images_at_kill["support"] == 0 and images_at_kill["banks"] == 0
    assert 1 <= images_at_kill["segment"] < 4  # killed mid-shard: some rows written, not all
    assert images_at_kill["metrics"] == 4

    workers.start()
    run = wait_finished(api, run_id, 150, workers.log_text, percents)
    assert run["status"] == "succeeded", f"{run['error']}\n{workers.log_text()}"
    outcome = run_outcome(api, run_id, media)
    published = _complete_artifacts(store)
    assert published and all((d / "COMPLETE").is_file() for d in published)  # no half-written artifact published

    # Undisturbed reference: the same evaluation from scratch (artifact store emptied), nobody killed.
    print(f"disturbed run done at {time.monotonic() - t0:.1f} s")
    shutil.rmtree(store)
    reference_id = _create_run(api, dataset_id)
    reference = wait_finished(api, reference_id, 150, workers.log_text)
    assert reference["status"] == "succeeded", reference["error"]
    assert reference["skipped_classes"] == []  # really recomputed
    print(f"reference run done at {time.monotonic() - t0:.1f} s")

    # Same results as the undisturbed run, no duplicated rows, progress never went backwards.
    assert outcome == run_outcome(api, reference_id, media)
    rows = ImageResult.objects.filter(run_id=run_id)
    assert rows.count() == 4 and rows.values("image_id").distinct().count() == 4
    assert percents == sorted(percents) and percents[-1] == 100.0
    for stage in RunStage.objects.filter(run_id=run_id):
        assert stage.status == "done" and stage.done == stage.total, stage

    # Every file a row points at is a final (renamed-into-place) PNG, never a temp file of the killed writer.
    for row in rows:
        for rel in (row.prediction, row.overlay):
            assert not Path(rel).name.startswith(".") and (media / rel).is_file()
    # Each killed task really ran again on a later worker (redelivered after the visibility timeout).
    assert "tasks.artifacts.build_class_artifacts[" in workers.logs[1].read_text(errors="replace")
    assert "tasks.segment.segment_shard[" in workers.logs[3].read_text(errors="replace")
