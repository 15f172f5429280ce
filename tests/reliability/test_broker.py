"""Broker outage: a private ``redis-server`` (spare port, password, append-only file; the machine's Redis is never
touched) is SIGKILLed while a run is in its support stage and restarted a few seconds later.

While it is down the web app keeps serving pages and says the queue is unavailable, and a run submitted then
fails at once with a clear error. After the restart the interrupted run finishes by itself (its messages were
kept by the append-only file), and the failed run is resumed by the user without recomputing anything.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.reliability.conftest import FAST_SETTINGS, RedisServer, upload_demo, wait_finished

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]
PASSWORD = "broker-Pw-9f2c"


def _store_files(store: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}


def test_broker_killed_and_restarted_during_a_run(workers_factory: Any, api: Any, user: Any, settings: Any,
                                                  tmp_path: Path) -> None:
    from ovdiff_web.core.models import ImageResult

    server = RedisServer(tmp_path / "redis", password=PASSWORD)
    server.start()
    try:
        _scenario(workers_factory, server, api, user, settings, tmp_path, ImageResult)
    finally:
        server.kill()


def _scenario(workers_factory: Any, server: RedisServer, api: Any, user: Any, settings: Any, tmp_path: Path,
              ImageResult: Any) -> None:  # noqa: N803 - model class passed in
    settings.OVDIFF_WORKER_PING_TIMEOUT = 0.5
    workers = workers_factory(server.url)
    fault_dir = tmp_path / "faults"
    fault_dir.mkdir()
    worker = workers.start({"OVDIFF_FAULT_STAGE": "support", "OVDIFF_FAULT_DIR": str(fault_dir),
                            "OVDIFF_FAULT_SLEEP_S": "8"})
    dataset_id = upload_demo(api, n_images=4)
    first = api.post("/api/runs/", {"dataset": dataset_id, "settings": FAST_SETTINGS}, format="json").json()
    deadline = time.monotonic() + 120
    while not (fault_dir / "support.reached").exists():
        assert time.monotonic() < deadline and worker.poll() is None, workers.log_text()
        time.sleep(0.2)

    # --- broker down -------------------------------------------------------------------------------------
    server.kill()
    down_at = time.monotonic()
    ui = Client()
    ui.force_login(user)
    for url in ("/runs/", f"/runs/{first['id']}/", "/vocabularies/", "/segment/"):
        assert ui.get(url).status_code == 200, url
    page = ui.get("/workers/")
    assert page.status_code == 200 and "The task broker is unavailable" in page.content.decode()
    status = api.get("/api/workers/")
    assert status.status_code == 503 and status.json()["broker"] == "unavailable"
    assert "cannot reach the broker" in status.json()["detail"]
    assert api.get(f"/api/runs/{first['id']}/progress/").status_code == 200
    second = api.post("/api/runs/", {"dataset": dataset_id, "settings": FAST_SETTINGS}, format="json")
    assert second.status_code == 201
    second_run = api.get(f"/api/runs/{second.json()['id']}/").json()
    assert second_run["status"] == "failed" and "could not queue the run: broker unavailable" in second_run["error"]
    for body in (page.content.decode(), status.content.decode(), second.content.decode()):
        assert PASSWORD not in body
    time.sleep(max(0.0, 3.0 - (time.monotonic() - down_at)))

    # --- broker back (same port, same append-only file) ---------------------------------------------------
    server.start()
    run = wait_finished(api, first["id"], 150, workers.log_text)
    assert run["status"] == "succeeded", f"{run['error']}\n{workers.log_text()}"
    assert ImageResult.objects.filter(run_id=first["id"]).count() == 4
    assert worker.poll() is None  # the same worker reconnected and carried on
    before = _store_files(Path(settings.OVDIFF_STORE_DIR))

    # --- the user resumes the run that could not be queued -------------------------------------------------
    resumed = api.post(f"/api/runs/{second_run['id']}/resume/")
    assert resumed.status_code == 202 and resumed.json()["status"] == "queued"
    assert api.post(f"/api/runs/{first['id']}/resume/").status_code == 409  # a succeeded run is not resumable
    done = wait_finished(api, second_run["id"], 120, workers.log_text)
    assert done["status"] == "succeeded" and done["error"] == ""
    assert sorted(done["skipped_classes"]) == ["brick", "grass", "gravel"]  # nothing recomputed
    assert _store_files(Path(settings.OVDIFF_STORE_DIR)) == before
    assert done["miou"] == pytest.approx(run["miou"])
    logs = "".join(p.read_text(errors="replace") for p in [*workers.logs, tmp_path / "redis" / "redis.log"])
    assert PASSWORD not in logs
