"""Warm workers for prediction jobs: per-image latency of a second job / the first job of a fresh worker, and the
queueing overhead (submit -> first result) of a one-image job on the tiny profile.

Everything real and isolated, as ``service_latency``: a temporary SQLite database, gunicorn, a Celery worker
subprocess on the local Redis DB 13 with private queue names, token auth, ``POST /api/predictions/``.
A first job builds the vocabulary's support sets and banks (so both measured jobs find them in the store); the
worker is then restarted, so job A is the first job of a fresh worker (it loads the models and the banks and
builds the segmenter) and job B, same vocabulary and as many images, the second (nothing reloaded). Per-image
latency = the segment stage's duration (first image started -> last image recorded) / images, read from the
job's progress. Then a one-image job (same vocabulary) is submitted and ``results`` polled every 50 ms until the
image is there (three times, medians kept): submit -> first result, and that minus the job's own segment stage
(first image started -> recorded): what queueing, planning and recording add.
"""
from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.suites.service_latency import FAST_SETTINGS, ROOT, _env, _free_port, _stop, _wait_http, _wait_ready

CLASSES = "cat, sky"


def seed() -> dict:
    """(Runs in a subprocess with the bench environment.) A user and an API token."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user("bench", password="bench-password")
    return {"token": Token.objects.create(user=user).key}


def _images(n: int, seed_: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed_)
    out = []
    for i in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(buf, format="PNG")
        out.append(("files", (f"img{seed_}_{i}.png", buf.getvalue(), "image/png")))
    return out


def _submit(s, base: str, n: int, seed_: int) -> int:  # noqa: ANN001 - requests.Session
    r = s.post(f"{base}/api/predictions/", files=_images(n, seed_),
               data={"classes": CLASSES, "profile": "tiny", "settings": json.dumps(FAST_SETTINGS)}, timeout=120)
    r.raise_for_status()
    return r.json()["id"]


def _wait_done(s, base: str, job: int, timeout: float = 900.0) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = s.get(f"{base}/api/predictions/{job}/progress/", timeout=30).json()
        if p["status"] in ("succeeded", "failed", "cancelled"):
            if p["status"] != "succeeded":
                raise RuntimeError(f"prediction job {job} {p['status']}: {p['error']}")
            return p
        time.sleep(0.2)
    raise RuntimeError(f"prediction job {job} did not finish in {timeout} s")


def _per_image(progress: dict, n: int) -> float:
    stage = next(st for st in progress["stages"] if st["name"] == "segment")
    start, end = (datetime.fromisoformat(stage[k].replace("Z", "+00:00")) for k in ("started_at", "finished_at"))
    return (end - start).total_seconds() / n


def _first_result(s, base: str, timeout: float = 300.0) -> tuple[float, float]:  # noqa: ANN001
    """(submit -> first result, that minus the job's own segment time): a one-image job's queueing overhead."""
    t0 = time.perf_counter()
    job = _submit(s, base, 1, 99)
    while time.perf_counter() - t0 < timeout:
        if s.get(f"{base}/api/predictions/{job}/results/", timeout=30).json()["results"]:
            seen = time.perf_counter() - t0
            return seen, seen - _per_image(_wait_done(s, base, job), 1)
        time.sleep(0.05)
    raise RuntimeError(f"no result for one-image job {job} in {timeout} s")


def _start_worker(env: dict, tmp: Path, prefix: str, name: str) -> subprocess.Popen:
    log = tmp / f"{name}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ovdiff_web", "worker", "-Q", f"{prefix}gpu,{prefix}cpu", "-c", "1",
         "--pool=solo", "-n", f"{prefix}{name}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
        cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    _wait_ready(log, proc)
    return proc


def run(ctx) -> dict:  # noqa: ANN001 - bench.common.Context
    import os

    import requests

    n = 3 if ctx.quick else 6
    prefix = f"benchpred{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix="ovdiff-bench-predict-") as tmpdir:
        tmp = Path(tmpdir)
        env = _env(tmp, prefix)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        out = subprocess.run([sys.executable, "-m", "bench.suites.prediction_jobs", "--seed"], cwd=ROOT, env=env,
                             check=True, capture_output=True, text=True)
        token = json.loads(out.stdout.strip().splitlines()[-1])["token"]
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "ovdiff_web.wsgi:application", "--bind",
                                   f"127.0.0.1:{port}", "--workers", "2", "--timeout", "120"],
                                  cwd=ROOT, env=env, stdout=open(tmp / "server.log", "w"), stderr=subprocess.STDOUT)
        worker = None
        try:
            _wait_http(f"{base}/api/health/", server)
            s = requests.Session()
            s.headers["Authorization"] = f"Token {token}"
            worker = _start_worker(env, tmp, prefix, "w1")
            ctx.log("  building the vocabulary's support sets and banks ...")
            _wait_done(s, base, _submit(s, base, 1, 0))
            _stop(worker)
            worker = _start_worker(env, tmp, prefix, "w2")  # a fresh process: nothing loaded
            ctx.log(f"  job A ({n} images, first job of a fresh worker) ...")
            first = _per_image(_wait_done(s, base, _submit(s, base, n, 1)), n)
            ctx.log(f"  job B ({n} images, same vocabulary) ...")
            second = _per_image(_wait_done(s, base, _submit(s, base, n, 2)), n)
            ctx.log("  one-image jobs: submit -> first result (median of 3) ...")
            timings = [_first_result(s, base) for _ in range(3)]
            first_result = sorted(t[0] for t in timings)[1]
            overhead = sorted(t[1] for t in timings)[1]
        finally:
            if worker is not None:
                _stop(worker)
            _stop(server)
    return {
        "figures": {"warm_second_job_ratio": round(second / first, 3),
                    "predict_submit_to_first_result_seconds": round(first_result, 2),
                    "predict_queue_overhead_seconds": round(overhead, 2)},
        "details": {"images_per_job": n, "classes": CLASSES, "settings": FAST_SETTINGS, "image_size": "128x96",
                    "first_job_seconds_per_image": round(first, 3), "second_job_seconds_per_image": round(second, 3),
                    "one_image_jobs": [{"submit_to_first_result": round(a, 2), "overhead": round(b, 2)}
                                       for a, b in timings],
                    "server": "gunicorn, 2 workers, SQLite; one Celery worker (solo pool)"},
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seed", action="store_true", required=True)
    p.parse_args()
    print(json.dumps(seed()))
