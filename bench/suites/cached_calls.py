"""Figure: a cached command-line call against the same call when nothing is cached, and start-up times.

Each call is a fresh ``python`` process, as a user runs it. Cold: ``python -m engine prototypes`` for a class on an
empty store (tiny profile: imports torch/diffusers/transformers, builds the models, samples, masks, builds three
banks). Cached: the same command again, then ``support`` for that class, ``score`` on a folder, ``--help``; and
the service's start-up: ``manage.py check`` (Django) and importing the Celery app with its tasks. Targets: every
cached call and start-up under 1.5 s on this machine; ``cached_call_ratio`` = slowest cached call / cold call.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import Context, timed

ROOT = Path(__file__).resolve().parents[2]
CELERY = ("import django; django.setup(); from ovdiff_web.celery import app; "
          "app.loader.import_default_modules()")


def _run(args: list[str], env: dict[str, str]) -> float:
    def call() -> None:
        out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {out.stderr[-500:]}")

    return timed(call)[0]


def run(ctx: Context) -> dict:
    from engine.evaluation.demo_data import write_demo_dataset

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "DEBUG": "1",
           "DJANGO_SETTINGS_MODULE": "ovdiff_web.settings"}
    with tempfile.TemporaryDirectory() as tmp:
        store = ["--store", f"{tmp}/store", "--profile", "tiny", "--quiet"]
        data = write_demo_dataset(Path(tmp) / "ds", n_images=2, size=64)
        cls = ["--class", "red car"]
        cold = _run(["-m", "engine", "prototypes", *cls, "--out", f"{tmp}/p0", *store], env)
        repeats = 1 if ctx.quick else 3
        calls = {
            "prototypes": ["-m", "engine", "prototypes", *cls, "--out", f"{tmp}/p1", *store],
            "support": ["-m", "engine", "support", *cls, "--out", f"{tmp}/s1", *store],
            "score": ["-m", "engine", "score", "--pred", str(data / "masks"), "--gt", str(data / "masks"),
                      "--num-classes", "4"],
            "help": ["-m", "engine", "--help"],
            "django_check": ["manage.py", "check"],
            "celery_import": ["-c", CELERY],
        }
        seconds = {name: sorted(_run(args, env) for _ in range(repeats))[repeats // 2] for name, args in calls.items()}
    slowest = max(seconds.values())
    return {
        "figures": {"cached_call_ratio": seconds["prototypes"] / cold, "cached_call_max_seconds": slowest},
        "details": {"cold_prototypes_seconds": cold, "median_seconds": seconds, "repeats": repeats,
                    "target": "every cached call and start-up < 1.5 s", "passes": slowest < 1.5},
    }
