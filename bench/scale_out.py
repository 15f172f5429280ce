"""Figure: wall time of one tiny-profile evaluation with two Celery workers / with one worker.

Everything real, as in ``bench.service_latency``: a fresh migrated SQLite database, data directory and artifact
store per side, gunicorn serving the API, ``celery worker --pool=solo -c 1`` processes consuming the private
``gpu``/``cpu`` queues on the local Redis (DB 13). An 8-image folder dataset (2 with --quick), one image per shard
(``OVDIFF_SHARD_SIZE=1``), the service e2e settings (2 support images, 4 steps, attribution masks), 4 classes.
Timed from queueing the run through the API to the run's ``succeeded``; workers are ready before queueing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.service_latency import (FAST_SETTINGS, FINISHED, ROOT, _demo_zip, _env, _free_port, _stop, _wait_http,
                                   _wait_ready)

N_IMAGES = 8


def _evaluate(base: str, token: str, n_images: int, timeout: float = 600.0) -> float:
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    r = s.post(f"{base}/api/datasets/", data={"name": "scale", "format": "folder"},
               files={"file": ("demo.zip", _demo_zip(n_images), "application/zip")}, timeout=120)
    r.raise_for_status()
    t0 = time.perf_counter()
    r = s.post(f"{base}/api/runs/", json={"dataset": r.json()["id"], "settings": FAST_SETTINGS}, timeout=60)
    r.raise_for_status()
    run = r.json()["id"]
    while time.perf_counter() - t0 < timeout:
        status = s.get(f"{base}/api/runs/{run}/progress/", timeout=30).json()["status"]
        if status in FINISHED:
            if status != "succeeded":
                raise RuntimeError(f"run {run} {status}")
            return time.perf_counter() - t0
        time.sleep(0.1)
    raise RuntimeError(f"run {run} not finished in {timeout} s")


def one_side(n_workers: int, n_images: int) -> float:
    """Seconds for the evaluation with ``n_workers`` worker processes, on a fresh database and store."""
    prefix = f"scale{os.getpid()}x{n_workers}-"
    with tempfile.TemporaryDirectory(prefix="ovdiff-bench-scale-") as tmpdir:
        tmp = Path(tmpdir)
        env = {**_env(tmp, prefix), "OVDIFF_SHARD_SIZE": "1"}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        out = subprocess.run([sys.executable, "-m", "bench.service_latency", "--seed", "0"], cwd=ROOT, env=env,
                             check=True, capture_output=True, text=True)
        token = json.loads(out.stdout.strip().splitlines()[-1])["token"]
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "ovdiff_web.wsgi:application", "--bind",
                                   f"127.0.0.1:{port}", "--workers", "1", "--timeout", "120"], cwd=ROOT, env=env,
                                  stdout=open(tmp / "server.log", "w"), stderr=subprocess.STDOUT)
        workers = []
        try:
            _wait_http(f"http://127.0.0.1:{port}/api/health/", server)
            for i in range(n_workers):
                log = tmp / f"worker{i}.log"
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "ovdiff_web", "worker", "-Q", f"{prefix}gpu,{prefix}cpu",
                     "-c", "1", "--pool=solo", "-n", f"{prefix}{i}@%h", "--without-gossip", "--without-mingle",
                     "-l", "INFO"], cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT))
                _wait_ready(log, workers[-1])
            return _evaluate(f"http://127.0.0.1:{port}", token, n_images)
        finally:
            for proc in workers:
                _stop(proc)
            _stop(server)


def run(ctx) -> dict:  # noqa: ANN001 - bench.common.Context
    n_images = 2 if ctx.quick else N_IMAGES
    one = one_side(1, n_images)
    two = one_side(2, n_images)
    return {
        "figures": {"scale_out_ratio": two / one},
        "details": {"profile": "tiny", "images": n_images, "shard_size": 1, "settings": FAST_SETTINGS,
                    "seconds_one_worker": one, "seconds_two_workers": two, "cores": os.cpu_count(),
                    "note": "separate processes on one 2-core machine sharing Redis, the database and the store"},
    }
