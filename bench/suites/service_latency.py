"""Figure 7: API latency under 20 concurrent clients, and queue-to-first-progress time of a tiny run.

Everything real and isolated: a temporary SQLite database (migrated), a temporary OVDIFF_DATA_DIR, gunicorn
serving ``ovdiff_web.wsgi`` on a free loopback port (the deployment's server, 3 workers as in docker-compose),
a Celery worker subprocess on the local Redis DB 13 with private queue names, token auth. One run holds
10,000 per-image results (bulk-created); 20 client threads (one keep-alive session each) request the run list,
the run detail and a page of per-image results in turn (30 requests per client, 10 with --quick); p50/p95 per
endpoint. The dashboard is measured the same way
at a team's scale: 1,000 runs, a 150-class vocabulary and a 150-class run with 5,000 images and its 150 x 151
confusion matrix, a 5,000-image dataset, and the Workers page; each page's p50 is also given as a ratio to
``/api/health/`` (one ``SELECT 1``) served by the same server under the same load (the baseline), and measured
once more with a single client (what one user waits for). Then a tiny folder dataset is uploaded and a run queued
through the API; its progress endpoint is polled every 50 ms.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/13"
N_RESULTS = 10_000
N_RUNS = 1_000
N_CLASSES = 150
N_DATASET_IMAGES = 5_000
CLIENTS = 20
FINISHED = ("succeeded", "failed", "cancelled")
# Fastest real run: 2 support images, 4 denoising steps, attribution-threshold masks (as the service e2e test).
FAST_SETTINGS = {"support": {"n_images": 2, "num_inference_steps": 4},
                 "masks": {"proposer": "attribution", "use_instance_masks": False}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp: Path, prefix: str) -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "ovdiff_web.settings", "DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "OVDIFF_DATA_DIR": str(tmp / "data"),
            "REDIS_URL": REDIS_URL, "OVDIFF_PROFILE": "tiny", "OVDIFF_QUEUE_PREFIX": prefix, "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def seed(n_results: int) -> dict:
    """(Runs in a subprocess with the bench environment.) User + token, one finished run with n results."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from ovdiff_web.core.models import ImageResult, Run

    user = get_user_model().objects.create_user("bench", password="bench-password")
    token = Token.objects.create(user=user)
    runs = [Run.objects.create(profile="tiny", status=Run.Status.SUCCEEDED, created_by=user,
                               class_names=["background", "a", "b"]) for _ in range(30)]
    big = runs[-1]
    ImageResult.objects.bulk_create(
        [ImageResult(run=big, image_id=f"img{i:05d}", iou=(i % 997) / 997, pixel_accuracy=(i % 89) / 89,
                     prediction=f"runs/{big.pk}/pred/img{i:05d}.png", width=500, height=375,
                     classes_present=[1, 2]) for i in range(n_results)],
        batch_size=2000)
    return {"token": token.key, "run": big.pk, **seed_dashboard(user)}


def seed_dashboard(user) -> dict:  # noqa: ANN001
    """A team's scale for the dashboard: N_RUNS runs with stages, a N_CLASSES vocabulary, a N_CLASSES run with
    N_DATASET_IMAGES results and a full confusion matrix, and a dataset of N_DATASET_IMAGES images."""
    import random

    from ovdiff_web.core.models import Dataset, ImageResult, Run, RunStage, Vocabulary, VocabularyClass

    rng = random.Random(0)
    names = ["background"] + [f"class {i}" for i in range(1, N_CLASSES)]
    ids = [f"img{i:05d}" for i in range(N_DATASET_IMAGES)]
    dataset = Dataset.objects.create(name="bench-big", format="folder", source="server", root="/nonexistent",
                                     split="val", status="ready", class_names=names, prompts=names,
                                     image_ids=ids, image_count=len(ids), has_background=True, created_by=user)
    vocab = Vocabulary.objects.create(name="bench-150", owner=user)
    VocabularyClass.objects.bulk_create([VocabularyClass(vocabulary=vocab, name=n, order=i)
                                         for i, n in enumerate(names[1:])])
    snapshot = [{"name": n, "prompt": "", "is_stuff": False, "class_id": None} for n in names[1:]]
    runs = Run.objects.bulk_create([Run(profile="tiny", status=Run.Status.SUCCEEDED, created_by=user, dataset=dataset,
                                        vocabulary=vocab, miou=rng.random(), class_names=names[:3])
                                    for _ in range(N_RUNS - 31)])
    RunStage.objects.bulk_create([RunStage(run=r, name=s, order=i, total=1, done=1, status="done")
                                  for r in runs for i, s in enumerate(("support", "banks", "segment", "metrics"))])
    confusion = [[rng.randrange(0, 1000) for _ in range(N_CLASSES + 1)] for _ in range(N_CLASSES)]
    big = Run.objects.create(profile="tiny", status=Run.Status.SUCCEEDED, created_by=user, dataset=dataset,
                             vocabulary=vocab, class_names=names, vocabulary_snapshot=snapshot, image_ids=ids,
                             label_map={n: i for i, n in enumerate(names)}, miou=0.4, confusion=confusion,
                             per_class_iou={n: rng.random() for n in names})
    ImageResult.objects.bulk_create(
        [ImageResult(run=big, image_id=i, iou=rng.random(), prediction=f"runs/{big.pk}/pred/{i}.png", width=500,
                     height=375) for i in ids], batch_size=2000)
    return {"dashboard": {"runs": "/runs/", "run_150_classes": f"/runs/{big.pk}/", "datasets": "/datasets/",
                          "dataset_5000_images": f"/datasets/{dataset.pk}/",
                          "vocabulary_150": f"/vocabularies/{vocab.pk}/",
                          "workers": "/workers/", "baseline": "/api/health/"}}


def _demo_zip(n_images: int = 2) -> bytes:
    from engine.evaluation.demo_data import write_demo_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = write_demo_dataset(Path(tmp) / "ds", n_images=n_images, size=32, seed=0)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for p in sorted(Path(root).rglob("*")):
                if p.is_file():
                    zf.write(p, f"demo/{p.relative_to(root).as_posix()}")
        return buf.getvalue()


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            requests.get(url, timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} in {timeout} s")


def _dashboard_session(base: str) -> "requests.Session":  # noqa: F821
    """A browser-like session signed in through the dashboard's login form (CSRF cookie + token)."""
    import requests

    s = requests.Session()
    s.get(f"{base}/login/", timeout=60)
    r = s.post(f"{base}/login/", data={"username": "bench", "password": "bench-password",
                                       "csrfmiddlewaretoken": s.cookies["csrftoken"]},
               headers={"Referer": f"{base}/login/"}, timeout=60, allow_redirects=False)
    if r.status_code != 302:
        raise RuntimeError(f"dashboard login failed: {r.status_code}")
    return s


def load_test(base: str, token: str, run_id: int, clients: int, per_client: int,
              pages: dict[str, str] | None = None) -> dict[str, dict[str, float]]:
    """Each client thread requests the endpoints in turn (the API with a token, or with ``pages`` the dashboard
    signed in); latency percentiles in ms per endpoint."""
    import requests

    endpoints = {"run_list": f"{base}/api/runs/", "run_detail": f"{base}/api/runs/{run_id}/",
                 "image_results": f"{base}/api/runs/{run_id}/images/?ordering=-iou&page=3"}
    if pages is not None:
        endpoints = {name: base + path for name, path in pages.items()}
    lat: dict[str, list[float]] = {k: [] for k in endpoints}
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(i: int) -> None:
        if pages is not None:
            s = _dashboard_session(base)
        else:
            s = requests.Session()
            s.headers["Authorization"] = f"Token {token}"
        names = list(endpoints)
        start.wait()
        for j in range(per_client):
            name = names[(i + j) % len(names)]
            t0 = time.perf_counter()
            r = s.get(endpoints[name], timeout=60)
            dt = (time.perf_counter() - t0) * 1000
            with lock:
                (lat[name] if r.status_code == 200 else errors).append(dt if r.status_code == 200 else
                                                                        f"{name}: {r.status_code}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return {k: {"p50": _pct(v, 50), "p95": _pct(v, 95), "requests": len(v)} for k, v in lat.items()}


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(q / 100 * len(v)) - 1))] if v else float("nan")


def first_progress(base: str, token: str, timeout: float = 120.0) -> dict[str, float]:
    """Upload a 2-image dataset, queue a run; seconds until the worker starts it and until the first stage
    reports progress (started or advanced), as the dashboard's progress poll would see it."""
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    r = s.post(f"{base}/api/datasets/", data={"name": "bench-demo", "format": "folder"},
               files={"file": ("demo.zip", _demo_zip(), "application/zip")}, timeout=60)
    r.raise_for_status()
    dataset = r.json()["id"]
    t0 = time.perf_counter()
    r = s.post(f"{base}/api/runs/", json={"dataset": dataset, "settings": FAST_SETTINGS}, timeout=60)
    r.raise_for_status()
    queued = time.perf_counter() - t0
    run = r.json()["id"]
    started = progressed = None
    while time.perf_counter() - t0 < timeout:
        p = s.get(f"{base}/api/runs/{run}/progress/", timeout=30).json()
        now = time.perf_counter() - t0
        if started is None and p["status"] != "queued":
            started = now
        stages = p["stages"]
        if any(st["done"] > 0 or st["status"] != "pending" for st in stages) or p["status"] in FINISHED:
            progressed = now
            break
        time.sleep(0.05)
    s.post(f"{base}/api/runs/{run}/cancel/", timeout=30)  # the rest of the run is not measured
    if progressed is None:
        raise RuntimeError(f"run {run} showed no progress in {timeout} s")
    return {"queue_request_seconds": queued, "seconds_to_running": started if started is not None else progressed,
            "seconds_to_first_progress": progressed}


def _wait_ready(log: Path, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    """Celery logs "ready." once it consumes its queues: queue only then, so start-up is not counted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited early: {log.read_text()[-2000:]}")
        if " ready." in log.read_text():
            return
        time.sleep(0.2)
    raise RuntimeError(f"worker not ready in {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(ctx) -> dict:  # noqa: ANN001 - bench.common.Context
    per_client = 10 if ctx.quick else 30
    n_results = 2_000 if ctx.quick else N_RESULTS
    prefix = f"bench{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix="ovdiff-bench-service-") as tmpdir:
        tmp = Path(tmpdir)
        env = _env(tmp, prefix)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        out = subprocess.run([sys.executable, "-m", "bench.suites.service_latency", "--seed", str(n_results)], cwd=ROOT,
                             env=env, check=True, capture_output=True, text=True)
        seeded = json.loads(out.stdout.strip().splitlines()[-1])
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        log = open(tmp / "server.log", "w")
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "ovdiff_web.wsgi:application", "--bind",
                                   f"127.0.0.1:{port}", "--workers", "3", "--timeout", "120"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        worker = None
        try:
            _wait_http(f"{base}/api/health/", server)
            ctx.log(f"  {CLIENTS} clients x {per_client} requests, {n_results} image results ...")
            load_test(base, seeded["token"], seeded["run"], CLIENTS, 3)  # warm every worker's connection
            latency = load_test(base, seeded["token"], seeded["run"], CLIENTS, per_client)
            ctx.log(f"  dashboard at scale: {N_RUNS} runs, {N_CLASSES} classes, {N_DATASET_IMAGES} images ...")
            pages = seeded["dashboard"]
            load_test(base, "", 0, CLIENTS, len(pages), pages)  # warm
            dashboard = load_test(base, "", 0, CLIENTS, max(len(pages), per_client // 2), pages)
            baseline = dashboard["baseline"]["p50"]
            alone = load_test(base, "", 0, 1, 5 * len(pages), pages)  # one user: what a page costs by itself
            wlog = open(tmp / "worker.log", "w")
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "ovdiff_web", "worker", "-Q", f"{prefix}gpu,{prefix}cpu",
                 "-c", "1", "--pool=solo", "-n", f"{prefix}@%h", "--without-gossip", "--without-mingle", "-l",
                 "INFO"], cwd=ROOT, env=env, stdout=wlog, stderr=subprocess.STDOUT)
            _wait_ready(tmp / "worker.log", worker)
            ctx.log("  queue a tiny run, wait for its first progress ...")
            progress = first_progress(base, seeded["token"])
        finally:
            if worker is not None:
                _stop(worker)
            _stop(server)
            log.close()
    return {
        "figures": {"api_latency_ms": {k: {"p50": v["p50"], "p95": v["p95"]} for k, v in latency.items()},
                    "dashboard_latency_ms": {k: {"p50": v["p50"], "p95": v["p95"],
                                                 "p50_vs_baseline": round(v["p50"] / baseline, 2)}
                                             for k, v in dashboard.items()},
                    "dashboard_single_client_ms": {k: {"p50": v["p50"], "p95": v["p95"]} for k, v in alone.items()},
                    "run_first_progress_seconds": progress["seconds_to_first_progress"]},
        "details": {"clients": CLIENTS, "requests_per_client": per_client, "image_results": n_results,
                    "dashboard_scale": {"runs": N_RUNS, "classes": N_CLASSES, "dataset_images": N_DATASET_IMAGES,
                                        "baseline": "/api/health/ (one SELECT 1)", "pages": seeded["dashboard"]},
                    "server": "gunicorn, 3 workers, SQLite", "latency": latency, **progress,
                    "note": "worker ready before queueing; the run is cancelled after its first progress update"},
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, required=True)
    print(json.dumps(seed(p.parse_args().seed)))
