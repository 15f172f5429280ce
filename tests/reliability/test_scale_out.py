"""Scale-out: one evaluation on two Celery worker processes consuming the same gpu queue (as two GPU machines
would: shared Redis on a private queue prefix, the shared database file and the shared artifact store).

Both workers must segment shards, every class must be built exactly once (the workers log each task's result;
``built`` is False for a cache hit), and the outcome must be byte-identical to the same evaluation computed by
ONE worker from an empty store afterwards.
"""
from __future__ import annotations

import ast
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import FAST_SETTINGS, redis_or_skip, run_outcome, upload_demo, wait_finished

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]
SCALE_REDIS = "redis://127.0.0.1:6379/9"  # a DB of its own: redis_or_skip empties it
# The deployment's visibility timeout (the worker-kill tests shorten it to 4 s so a killed task comes back fast;
# here a task running longer than that would be redelivered to the other worker and run twice).
NORMAL_BROKER = {"OVDIFF_BROKER_VISIBILITY_TIMEOUT_S": "3600"}
_DONE = re.compile(r"Task (tasks\.[\w.]+)\[[^\]]+\] succeeded in [\d.e-]+s: (\{.*\})")


def task_results(log: Path) -> list[tuple[str, dict[str, Any]]]:
    """(task name, returned dict) of every task a worker finished, from its log."""
    out = []
    for match in _DONE.finditer(log.read_text(errors="replace")):
        out.append((match.group(1), ast.literal_eval(match.group(2))))
    return out


def _evaluate(api: Any, dataset_id: int, workers: Any) -> tuple[int, float]:
    t0 = time.monotonic()
    response = api.post("/api/runs/", {"dataset": dataset_id, "settings": FAST_SETTINGS}, format="json")
    assert response.status_code == 201, response.content
    run_id = int(response.json()["id"])
    run = wait_finished(api, run_id, 600, workers.log_text)
    assert run["status"] == "succeeded", (run, workers.log_text())
    return run_id, time.monotonic() - t0


def test_two_workers_share_one_evaluation(workers_factory: Any, api: Any, settings: Any) -> None:
    redis_or_skip(SCALE_REDIS)
    settings.OVDIFF_SHARD_SIZE = 1  # one image per shard: 6 shards for two workers to share
    workers = workers_factory(SCALE_REDIS)
    workers.start(NORMAL_BROKER)
    workers.start(NORMAL_BROKER)
    dataset_id = upload_demo(api, n_images=6)
    media, store = Path(settings.MEDIA_ROOT), Path(settings.OVDIFF_STORE_DIR)
    run_id, _ = _evaluate(api, dataset_id, workers)

    per_worker = [task_results(log) for log in workers.logs]
    ids = [m for log in workers.logs for m in re.findall(r"Task tasks\.[\w.]+\[([^\]]+)\] succeeded", log.read_text())]
    assert len(ids) == len(set(ids)), "a task ran on both workers (redelivered)"
    shards = [[r for name, r in results if name == "tasks.segment.segment_shard"] for results in per_worker]
    assert all(shards), f"each worker must segment shards: {[len(s) for s in shards]}\n{workers.log_text()}"
    builds = [r for results in per_worker for name, r in results if name == "tasks.artifacts.build_class_artifacts"]
    built = [r["class"] for r in builds if r.get("built")]
    assert built and len(built) == len(set(built)), f"a class was built twice: {builds}"
    assert len(list(store.glob("support/*/*"))) == len(set(built))
    two = run_outcome(api, run_id, media)

    # The same evaluation from scratch on one worker.
    workers.stop_all()
    shutil.rmtree(store)
    store.mkdir()
    workers.procs, workers.logs = [], []
    workers.start(NORMAL_BROKER)
    one_id, _ = _evaluate(api, dataset_id, workers)
    assert run_outcome(api, one_id, media) == two
