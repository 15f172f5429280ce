"""Under load and faults, with REAL workers: a big run by one user does not hold back another user's small run
(fair chunked queueing), and a run whose worker was SIGKILLed (default: hours of visibility timeout) is found
stalled by the watchdog within seconds of its stall threshold, then resumed to success."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.reliability.conftest import FAST_SETTINGS, OTHER_REDIS, redis_or_skip, upload_demo, wait_finished

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_a_big_run_does_not_hold_back_another_users_small_run(workers_factory: Any, api: Any, other_user: Any,
                                                              settings: Any) -> None:
    from ovdiff_web.core.models import RunStage

    redis_or_skip(OTHER_REDIS)
    workers = workers_factory(OTHER_REDIS)
    workers.start({"OVDIFF_FAIR_CHUNK": "2"})  # one solo worker: everything shares it
    bob = _client(other_user)
    alice_data, bob_data = upload_demo(api, "alice-demo", n_images=2), upload_demo(bob, "bob-demo", n_images=2)
    names = ", ".join(f"thing{i}" for i in range(14))
    vocab = api.post("/api/vocabularies/", {"name": "big", "names": names}, format="json").json()["id"]
    big = api.post("/api/runs/", {"dataset": alice_data, "vocabulary": vocab, "settings": FAST_SETTINGS},
                   format="json").json()["id"]
    deadline = time.monotonic() + 120
    while RunStage.objects.get(run_id=big, name="support").done < 1:  # the big run is on the worker
        assert time.monotonic() < deadline, workers.log_text()
        time.sleep(0.2)
    small_vocab = bob.post("/api/vocabularies/", {"name": "small", "names": "brick"}, format="json").json()["id"]
    small = bob.post("/api/runs/", {"dataset": bob_data, "vocabulary": small_vocab, "settings": FAST_SETTINGS},
                     format="json").json()["id"]
    done = wait_finished(bob, small, 300, workers.log_text)
    assert done["status"] == "succeeded", done["error"]
    support = RunStage.objects.get(run_id=big, name="support")
    print(f"big run at {support.done}/{support.total} classes when the small run finished")
    assert support.done <= support.total - 4  # the small run went in between, not after all 14 classes
    assert wait_finished(api, big, 400, workers.log_text)["status"] == "succeeded"


def test_sigkilled_worker_run_is_found_stalled_then_resumed(workers_factory: Any, api: Any, settings: Any,
                                                             tmp_path: Path) -> None:
    from ovdiff_web.core.models import Run
    from ovdiff_web.ops import watchdog

    redis_or_skip(OTHER_REDIS)
    workers = workers_factory(OTHER_REDIS)
    fault_dir = tmp_path / "faults"
    fault_dir.mkdir()
    # default visibility timeout (hours): without the watchdog the killed task would not come back for hours
    proc = workers.start({"OVDIFF_FAULT_STAGE": "segment", "OVDIFF_FAULT_DIR": str(fault_dir),
                          "OVDIFF_FAULT_SLEEP_S": "300", "OVDIFF_BROKER_VISIBILITY_TIMEOUT_S": "25200"})
    settings.OVDIFF_SHARD_SIZE = 2
    dataset = upload_demo(api, n_images=4)
    run_id = api.post("/api/runs/", {"dataset": dataset, "settings": FAST_SETTINGS}, format="json").json()["id"]
    deadline = time.monotonic() + 180
    while not (fault_dir / "segment.reached").exists():
        assert time.monotonic() < deadline and proc.poll() is None, workers.log_text()
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed_at = time.monotonic()
    # As in the probe: the worker comes back with the default settings and takes the rest of the queue; the
    # killed shard's message stays unacknowledged (hours), so the run would sit "running" at n-1 of n shards.
    workers.start({"OVDIFF_BROKER_VISIBILITY_TIMEOUT_S": "25200"})
    settings.OVDIFF_STALL_AFTER_S = 5
    while Run.objects.get(pk=run_id).status == "running":
        assert time.monotonic() - killed_at < 90, f"not found stalled within 90 s\n{workers.log_text()}"
        watchdog.sweep()  # what celery beat runs every OVDIFF_WATCHDOG_INTERVAL_S
        time.sleep(1)
    run = Run.objects.get(pk=run_id)
    print(f"marked {run.status} {time.monotonic() - killed_at:.1f} s after the SIGKILL")
    assert run.status == "failed" and run.stalled_since is not None and "stalled" in run.error, run.error
    assert api.post(f"/api/runs/{run_id}/resume/").status_code == 202
    assert wait_finished(api, run_id, 200, workers.log_text)["status"] == "succeeded"
