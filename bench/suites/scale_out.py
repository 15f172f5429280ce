"""Figure: wall time of one tiny-profile evaluation with two Celery workers / with one worker.

Everything real, as in ``bench.suites.service_latency``: a fresh migrated SQLite database and data directory, an empty
artifact store per side, gunicorn serving the API, ``celery worker --pool=solo -c 1`` processes consuming the private
``gpu``/``cpu`` queues on the local Redis (DB 13). A 12-image folder dataset (2 with --quick), one image per shard
(``OVDIFF_SHARD_SIZE=1``), the service e2e settings (2 support images, 4 steps, attribution masks), 4 classes.
Timed from queueing the run through the API to the run's ``succeeded``; workers are ready before queueing and,
in the full mode, warm: an untimed run with other settings goes first, because a cold worker spends ~10 s loading
torch and its models on its first task (with few images, two cold workers were slower than one). Both sides share
the database, server and uploaded dataset (set-up the figure does not time); each side's workers start on an empty
store of their own, so both build every class. Each side gets the machine's cores: one worker runs torch on all of
them, two workers on half each (two workers with all threads each oversubscribe the cores and were slower than one:
on GPU machines each worker has a device of its own, which a CPU cannot imitate beyond splitting its cores).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.suites.service_latency import (FAST_SETTINGS, FINISHED, ROOT, _demo_zip, _env, _free_port, _stop, _wait_http,
                                   _wait_ready)

N_IMAGES = 12  # 4 class tasks + 12 shard tasks for two workers to share (warm tiny tasks are short)
# The untimed warm-up run before each side's timed one: other settings (other artifact keys, so the timed run still
# builds every class) that make every worker load its models, as deployed workers keep them loaded between tasks.
WARM_SETTINGS = {"support": {"n_images": 1, "num_inference_steps": 2},
                 "masks": {"proposer": "attribution", "use_instance_masks": False}}


def _upload(base: str, token: str, n_images: int) -> int:
    import requests

    r = requests.post(f"{base}/api/datasets/", data={"name": "scale", "format": "folder"},
                      files={"file": ("demo.zip", _demo_zip(n_images), "application/zip")},
                      headers={"Authorization": f"Token {token}"}, timeout=120)
    r.raise_for_status()
    return int(r.json()["id"])


def _evaluate(base: str, token: str, dataset: int, timeout: float = 600.0,
              settings: dict | None = None) -> float:
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    t0 = time.perf_counter()
    r = s.post(f"{base}/api/runs/", json={"dataset": dataset, "settings": settings or FAST_SETTINGS}, timeout=60)
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


def one_side(tmp: Path, env: dict[str, str], prefix: str, base: str, token: str, dataset: int,
             n_workers: int, warm: bool) -> float:
    """Seconds for the evaluation with ``n_workers`` worker processes on an empty artifact store of their own
    (database, server and dataset are shared by both sides; each side's run is a new run)."""
    threads = str(max(1, (os.cpu_count() or 1) // n_workers))  # both sides use the same cores, not more
    env = {**env, "OVDIFF_STORE_DIR": str(tmp / f"store-{n_workers}"), "OMP_NUM_THREADS": threads}
    workers = []
    try:
        for i in range(n_workers):  # started together, queued once all are ready
            log = tmp / f"worker{n_workers}-{i}.log"
            workers.append((log, subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "ovdiff_web", "worker", "-Q", f"{prefix}gpu,{prefix}cpu",
                 "-c", "1", "--pool=solo", "-n", f"{prefix}{n_workers}-{i}@%h", "--without-gossip",
                 "--without-mingle", "-l", "INFO"], cwd=ROOT, env=env, stdout=open(log, "w"),
                stderr=subprocess.STDOUT)))
        for log, proc in workers:
            _wait_ready(log, proc)
        if warm:
            _evaluate(base, token, dataset, settings=WARM_SETTINGS)  # untimed: the workers load their models
        return _evaluate(base, token, dataset)
    finally:
        for _, proc in workers:
            _stop(proc)


def compare(n_images: int, warm: bool = True) -> tuple[float, float]:
    """(one worker, two workers) seconds, on one fresh migrated database served by one gunicorn."""
    prefix = f"scale{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix="ovdiff-bench-scale-") as tmpdir:
        tmp = Path(tmpdir)
        env = {**_env(tmp, prefix), "OVDIFF_SHARD_SIZE": "1"}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        out = subprocess.run([sys.executable, "-m", "bench.suites.service_latency", "--seed", "0"], cwd=ROOT, env=env,
                             check=True, capture_output=True, text=True)
        token = json.loads(out.stdout.strip().splitlines()[-1])["token"]
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "ovdiff_web.wsgi:application", "--bind",
                                   f"127.0.0.1:{port}", "--workers", "1", "--timeout", "120"], cwd=ROOT, env=env,
                                  stdout=open(tmp / "server.log", "w"), stderr=subprocess.STDOUT)
        try:
            _wait_http(f"{base}/api/health/", server)
            dataset = _upload(base, token, n_images)
            return (one_side(tmp, env, prefix, base, token, dataset, 1, warm),
                    one_side(tmp, env, prefix, base, token, dataset, 2, warm))
        finally:
            _stop(server)


def run(ctx) -> dict:  # noqa: ANN001 - bench.common.Context
    n_images = 2 if ctx.quick else N_IMAGES
    one, two = compare(n_images, warm=not ctx.quick)
    return {
        "figures": {"scale_out_ratio": two / one},
        "details": {"profile": "tiny", "images": n_images, "shard_size": 1, "settings": FAST_SETTINGS,
                    "seconds_one_worker": one, "seconds_two_workers": two, "warm_workers": not ctx.quick,
                    "cores": os.cpu_count(),
                    "note": "separate processes on one 2-core machine sharing Redis, the database and the store"},
    }
