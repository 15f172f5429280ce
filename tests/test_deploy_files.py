"""The deployment files are valid: compose parses, Dockerfiles exist, the GPU image does not pin CPU torch."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _compose_cmd() -> list[str]:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed (.ci/run installs Debian's docker-compose)")


def test_compose_file_is_valid() -> None:
    env = {**os.environ, "SECRET_KEY": "ci-not-secret", "FLOWER_BASIC_AUTH": "ops:ci-not-secret"}
    out = subprocess.run([*_compose_cmd(), "-f", str(ROOT / "docker-compose.yml"), "config"],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    for service in ("postgres", "redis", "web", "worker-gpu", "worker-cpu", "beat", "flower"):
        assert f"{service}:" in out.stdout
    assert "nvidia" in out.stdout and "gpu" in out.stdout


def test_compose_flower_needs_auth_redis_persists_and_beat_runs() -> None:
    """Flower is not published without authentication; Redis keeps its queues across restarts (append-only
    file); celery beat runs the stalled-run watchdog."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    flower = compose["services"]["flower"]
    assert "--basic-auth" in " ".join(flower["command"]) and "FLOWER_BASIC_AUTH" in flower["environment"]
    assert all(str(p).startswith("127.0.0.1:") for p in flower.get("ports", []))
    assert compose["services"]["redis"]["command"][-2:] == ["--appendonly", "yes"]
    assert "beat" in compose["services"]["beat"]["command"]
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    env["SECRET_KEY"] = "ci-not-secret"
    out = subprocess.run([*_compose_cmd(), "-f", str(ROOT / "docker-compose.yml"), "config"],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode != 0 and "FLOWER_BASIC_AUTH" in (out.stderr + out.stdout)


def test_compose_requires_secret_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["FLOWER_BASIC_AUTH"] = "ops:ci-not-secret"
    out = subprocess.run([*_compose_cmd(), "-f", str(ROOT / "docker-compose.yml"), "config"],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode != 0
    assert "SECRET_KEY" in (out.stderr + out.stdout)


def test_cpu_install_pins_torch_and_gpu_does_not() -> None:
    assert (ROOT / "requirements/cpu-torch.txt").read_text().strip() == "torch==2.13.0"
    gpu = (ROOT / "requirements/gpu-torch.txt").read_text()
    assert "torch" in gpu and "2.13.0" not in gpu and "+cpu" not in gpu
    assert "cpu-torch" not in (ROOT / "requirements/gpu.txt").read_text()
    assert "gpu.txt" in (ROOT / "docker/Dockerfile.gpu").read_text()
