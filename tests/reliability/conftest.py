"""Reliability fixtures: REAL Celery worker subprocesses that a test may SIGKILL and restart, a private
``redis-server`` on a spare port that a test may kill (the machine's Redis on 6379 is never touched), the web
side pointed at the same broker, and the file SQLite test database shared by every process.

Redis DB numbers: 10 for the worker-kill tests, 11 for the others; the private server uses DB 0 of its own.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

from tests.service.conftest import anon, api, demo_zip  # noqa: E402,F401  (media_root, user, other_user: tests/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
KILL_REDIS = "redis://127.0.0.1:6379/10"
OTHER_REDIS = "redis://127.0.0.1:6379/11"
# Smaller than the tiny profile still (same as tests/service/test_e2e.py): 2 support images, 4 denoising steps.
FAST_SETTINGS: dict[str, Any] = {"support": {"n_images": 2, "num_inference_steps": 4},
                                 "masks": {"proposer": "attribution", "use_instance_masks": False}}
FINISHED = ("succeeded", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_or_skip(url: str) -> None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {url}")


@contextmanager
def web_broker(url: str) -> Iterator[None]:
    """Point this (web) process's Celery app at ``url``; connection pools are rebuilt and restored after."""
    from ovdiff_web.celery import app

    def reset() -> None:  # drop references only: kombu's global pools stay usable for whoever shares them
        app._pool = None
        # the result backend (and its pub/sub consumer) is bound to the old URL: forget it (per thread too)
        app._backend_cache = None
        app._local.__dict__.pop("backend", None)
        app.__dict__.get("amqp") and setattr(app.amqp, "_producer_pool", None)

    old = (app.conf.broker_url, app.conf.result_backend)
    reset()
    app.conf.broker_url = url
    app.conf.result_backend = url
    try:
        yield
    finally:
        reset()
        app.conf.broker_url, app.conf.result_backend = old


class RedisServer:
    """A private ``redis-server`` (append-only file, so a restart keeps queued and unacked messages)."""

    def __init__(self, workdir: Path, password: str = "") -> None:
        if not shutil.which("redis-server"):
            pytest.skip("redis-server is not installed")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.url = f"redis://{':' + password + '@' if password else ''}127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        auth = ["--requirepass", self.password] if self.password else []
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no", *auth],
            stdout=open(self.dir / "redis.log", "ab"), stderr=subprocess.STDOUT)
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()


class Workers:
    """Starts ``celery worker --pool=solo`` subprocesses sharing the test's database, media and store."""

    def __init__(self, broker: str, tmp: Path, settings: Any, db_name: str) -> None:
        self.prefix = f"rel{os.getpid()}-"  # private queues, as in tests/service/test_e2e.py
        settings.OVDIFF_QUEUE_PREFIX = self.prefix
        self.broker = broker
        self.tmp = tmp
        self.settings = settings
        self.db_name = db_name
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OVDIFF_FAULT_")}
        env.update({"DJANGO_SETTINGS_MODULE": "ovdiff_web.settings", "DEBUG": "1",
                    "DATABASE_URL": f"sqlite:///{self.db_name}", "REDIS_URL": self.broker,
                    "CELERY_RESULT_BACKEND": self.broker, "MEDIA_ROOT": str(self.settings.MEDIA_ROOT),
                    "OVDIFF_STORE_DIR": str(self.settings.OVDIFF_STORE_DIR), "OVDIFF_DATA_DIR": str(self.tmp),
                    "OVDIFF_PROFILE": "tiny", "OVDIFF_QUEUE_PREFIX": self.prefix, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                    "OMP_NUM_THREADS": "1", "OVDIFF_BROKER_VISIBILITY_TIMEOUT_S": "4",
                    "OVDIFF_BROKER_RESTORE_INTERVAL_S": "1"})
        env.update(extra or {})
        return env

    def start(self, extra_env: dict[str, str] | None = None, wait: bool = True) -> subprocess.Popen:
        n = len(self.procs)
        log = self.tmp / f"worker{n}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ovdiff_web", "worker", "-Q", f"{self.prefix}gpu,{self.prefix}cpu", "-c", "1",
             "--pool=solo", "-n", f"rel{n}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-l", "INFO"],
            cwd=ROOT, env=self.env(extra_env), stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        self.procs.append(proc)
        self.logs.append(log)
        if wait:
            self.wait_ready(proc, log)
        return proc

    def wait_ready(self, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"worker exited early:\n{log.read_text()[-4000:]}")
            if "ready." in log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        pytest.fail(f"worker not ready in {timeout} s:\n{log.read_text()[-4000:]}")

    def log_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs if p.exists())

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGQUIT)  # cold shutdown: the test is over (a warm one takes ~2 s each)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers_factory(transactional_db: None, media_root: Path, settings: Any, tmp_path: Path) -> Iterator[Any]:
    """``make(broker_url) -> Workers``; the web side sends to the same broker for the test's duration."""
    from django.db import connection

    db_name = connection.settings_dict["NAME"]
    assert db_name and db_name != ":memory:" and "mode=memory" not in str(db_name)
    made: list[Workers] = []
    stack: list[Any] = []

    def make(broker: str) -> Workers:
        ctx = web_broker(broker)
        ctx.__enter__()
        stack.append(ctx)
        group = Workers(broker, tmp_path, settings, str(db_name))
        made.append(group)
        return group

    try:
        yield make
    finally:
        for group in made:
            group.stop_all()
        for ctx in reversed(stack):
            ctx.__exit__(None, None, None)


def upload_demo(api: Any, name: str = "demo", n_images: int = 4, size: int = 32) -> int:
    response = api.post("/api/datasets/", {"name": name, "format": "folder",
                                           "file": demo_zip(n_images=n_images, size=size)}, format="multipart")
    assert response.status_code == 201 and response.json()["status"] == "ready", response.content
    return int(response.json()["id"])


def wait_finished(api: Any, run_id: int, timeout: float, logs: Any = None, percents: list[float] | None = None
                  ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = api.get(f"/api/runs/{run_id}/progress/").json()
        if percents is not None:
            percents.append(progress["percent"])
        if progress["status"] in FINISHED:
            return api.get(f"/api/runs/{run_id}/").json()
        time.sleep(0.25)
    pytest.fail(f"run {run_id} did not finish in {timeout} s:\n{logs() if logs else ''}")


def run_outcome(api: Any, run_id: int, media: Path) -> dict[str, Any]:
    """Everything a user can read back about a finished run, comparable between runs."""
    import hashlib

    results = api.get(f"/api/runs/{run_id}/results/").json()
    images = api.get(f"/api/runs/{run_id}/images/?page_size=500").json()["results"]
    files = {}
    for row in images:
        files[row["image_id"]] = hashlib.sha256((media / row["prediction"]).read_bytes()).hexdigest()
    return {"miou": results["miou"], "pixel_accuracy": results["pixel_accuracy"],
            "per_class_iou": results["per_class_iou"], "confusion": results["confusion"],
            "images": sorted((r["image_id"], r["iou"], r["pixel_accuracy"]) for r in images), "predictions": files}
