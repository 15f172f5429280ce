"""README's first command: the demo runs a real tiny evaluation end to end (worker, web, Redis, database)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVDIFF_", "DJANGO_"))}
    env.update(OVDIFF_DATA_DIR=str(tmp_path / "data"), OVDIFF_DEMO_EXIT="1", OVDIFF_DEMO_PORT="0",
               DEBUG="1", HF_HUB_OFFLINE="1", **extra)
    env.pop("DATABASE_URL", None)
    return env


@pytest.mark.e2e
def test_demo_runs_a_real_evaluation_and_prints_the_dashboard(tmp_path):
    env = _env(tmp_path, REDIS_URL="redis://127.0.0.1:6379/12")
    subprocess.run(["redis-cli", "-n", "12", "flushdb"], capture_output=True)
    out = subprocess.run([sys.executable, "scripts/demo.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "succeeded: mIoU" in out.stdout
    assert "random-weight" in out.stdout and "synthetic" in out.stdout and "real photographs" in out.stdout
    # the second run: real DINOv2-S features, labelled as what they are
    assert out.stdout.count("succeeded: mIoU") == 2
    assert "real DINOv2-S features" in out.stdout and "not Meta's checkpoint" in out.stdout
    assert "no Stable Diffusion on this machine" in out.stdout
    assert "login: demo / ovdiff-demo" in out.stdout and "/runs/" in out.stdout
    assert (tmp_path / "data" / "db.sqlite3").exists() or any((tmp_path / "data").glob("*.sqlite3"))


def test_demo_without_redis_says_how_to_get_one(tmp_path):
    # Nothing listens on a free local port, and with no redis-server on PATH the demo cannot start one.
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0", PATH=str(tmp_path))
    out = subprocess.run([sys.executable, "scripts/demo.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
    assert "no Redis answers" in out.stderr and "apt-get install redis-server" in out.stderr
