"""Load: 20 concurrent clients on loopback browse runs and results (API and dashboard) for LOAD_SECONDS while a
real worker progresses a run; no request may fail, and the run's results must equal an unloaded run of the same
evaluation computed from scratch afterwards. The figures are written to test-artifacts/reliability-load.json."""
from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.reliability.conftest import FAST_SETTINGS, OTHER_REDIS, redis_or_skip, run_outcome, upload_demo, wait_finished

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]
CLIENTS = 20
LOAD_SECONDS = 25.0
ROOT = Path(__file__).resolve().parents[2]


def _browse(base: str, headers: dict[str, str], cookies: dict[str, str], run_id: int, stop: threading.Event,
            tally: dict[str, Any], lock: threading.Lock, index: int) -> None:
    urls = [f"/api/runs/", f"/api/runs/{run_id}/", f"/api/runs/{run_id}/progress/", f"/api/runs/{run_id}/results/",
            f"/api/runs/{run_id}/images/?ordering=-iou", f"/api/runs/?status=running", "/runs/", f"/runs/{run_id}/",
            f"/runs/{run_id}/progress.json", "/api/datasets/", "/api/vocabularies/"]
    session = requests.Session()
    session.headers.update(headers)  # the API authenticates by token, the dashboard by the session cookie
    session.cookies.update(cookies)
    i = index
    while not stop.is_set():
        url = urls[i % len(urls)]
        i += 1
        started = time.perf_counter()
        try:
            response = session.get(base + url, timeout=30, allow_redirects=False)
            ok = response.status_code == 200
            detail = f"{url} -> {response.status_code}"
        except requests.RequestException as exc:
            ok, detail = False, f"{url} -> {type(exc).__name__}"
        elapsed = time.perf_counter() - started
        with lock:
            tally["requests"] += 1
            tally["latencies"].append(elapsed)
            if not ok:
                tally["errors"].append(detail)


def test_twenty_clients_browse_while_a_run_progresses(workers_factory: Any, live_server: Any, api: Any, user: Any,
                                                       settings: Any) -> None:
    from django.test import Client

    from ovdiff_web.core.models import Run

    redis_or_skip(OTHER_REDIS)
    settings.OVDIFF_SHARD_SIZE = 2
    workers = workers_factory(OTHER_REDIS)
    workers.start()
    dataset_id = upload_demo(api, n_images=4)
    store, media = Path(settings.OVDIFF_STORE_DIR), Path(settings.MEDIA_ROOT)

    token = Token.objects.get_or_create(user=user)[0].key
    ui = Client()
    ui.force_login(user)
    cookies = {"sessionid": ui.cookies["sessionid"].value}
    response = api.post("/api/runs/", {"dataset": dataset_id, "settings": FAST_SETTINGS}, format="json")
    loaded_id = response.json()["id"]

    tally: dict[str, Any] = {"requests": 0, "errors": [], "latencies": []}
    lock, stop = threading.Lock(), threading.Event()
    threads = [threading.Thread(target=_browse, args=(live_server.url, {"Authorization": f"Token {token}"}, cookies,
                                                      loaded_id, stop, tally, lock, i)) for i in range(CLIENTS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(LOAD_SECONDS)
    stop.set()
    for t in threads:
        t.join(60)
    duration = time.monotonic() - started
    status_at_end_of_load = Run.objects.get(pk=loaded_id).status

    loaded = wait_finished(api, loaded_id, 150, workers.log_text)
    assert loaded["status"] == "succeeded", loaded["error"]
    loaded_outcome = run_outcome(api, loaded_id, media)

    shutil.rmtree(store)  # the unloaded reference recomputes everything
    reference_id = api.post("/api/runs/", {"dataset": dataset_id, "settings": FAST_SETTINGS}, format="json").json()["id"]
    reference = wait_finished(api, reference_id, 150, workers.log_text)
    assert reference["status"] == "succeeded" and reference["skipped_classes"] == []

    latencies = sorted(tally["latencies"])
    figures = {"clients": CLIENTS, "seconds": round(duration, 1), "requests": tally["requests"],
               "errors": len(tally["errors"]), "requests_per_second": round(tally["requests"] / duration, 1),
               "p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
               "p95_ms": round(1000 * latencies[int(len(latencies) * 0.95)], 1),
               "run_status_when_load_ended": status_at_end_of_load, "results_identical_to_unloaded_run": None}
    figures["results_identical_to_unloaded_run"] = loaded_outcome == run_outcome(api, reference_id, media)
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "reliability-load.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))

    assert tally["errors"] == [], tally["errors"][:20]
    assert tally["requests"] >= CLIENTS * 5
    assert figures["results_identical_to_unloaded_run"]
