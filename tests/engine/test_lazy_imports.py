"""Cached calls are instant: the CLI, the Django app and the Celery app import no model library, and a
``support`` / ``prototypes`` call for a cached class does not import torch at all (checked in fresh processes).

The web and worker start-up (Django's set-up, its system checks, which load every URL module and template tag, the
Celery app and its tasks) also leaves out what only a request or a task needs: numpy and Pillow (pixel work),
drf-spectacular's views (django.test and jinja2, for the schema pages) and boto3 (object storage)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "diffusers", "transformers")


# Not needed to start the web or a worker (each costs 30-100 ms of a start-up of ~0.6 s here).
START_UP_HEAVY = (*HEAVY, "numpy", "PIL", "drf_spectacular.views", "boto3", "botocore")


def _modules_after(code: str, env: dict[str, str] | None = None, watch: tuple[str, ...] = HEAVY) -> list[str]:
    """Modules of ``watch`` loaded by ``code`` run in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {watch!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**_base_env(), **(env or {})})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _base_env() -> dict[str, str]:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def test_cli_help_and_parser_import_no_model_library():
    assert _modules_after("from engine.cli import build_parser; build_parser().format_help()") == []


def test_django_and_celery_start_up_import_no_model_library():
    code = ("import django; django.setup()\n"
            "from ovdiff_web.celery import app; app.loader.import_default_modules()\n"
            "import ovdiff_web.urls")
    assert _modules_after(code, {"DJANGO_SETTINGS_MODULE": "ovdiff_web.settings_test"}, START_UP_HEAVY) == []


def test_system_checks_at_start_up_import_only_what_start_up_needs():
    """``manage.py check`` (what runserver, gunicorn's first request and a worker's Celery fix-up run) with the
    production settings and media on object storage configured: still none of them."""
    code = ("import django; django.setup()\n"
            "from django.core.management import call_command; call_command('check')")
    env = {"DJANGO_SETTINGS_MODULE": "ovdiff_web.settings", "DEBUG": "1",
           "OVDIFF_MEDIA_URL": "s3://ovdiff-media/prefix"}
    assert _modules_after(code, env, START_UP_HEAVY) == []


def test_cached_support_and_prototypes_import_no_torch(tmp_path):
    store = str(tmp_path / "store")
    assert main(["prototypes", "--class", "red car", "--profile", "tiny", "--store", store,
                 "--out", str(tmp_path / "built"), "--quiet"]) == 0  # builds (loads models in this process)
    for command, out in (("support", "sup"), ("prototypes", "protos")):
        argv = [command, "--class", "red car", "--profile", "tiny", "--store", store,
                "--out", str(tmp_path / out), "--quiet"]
        assert _modules_after(f"from engine.cli import main\nassert main({argv!r}) == 0") == []
    for ename in ("sd", "dino", "clip"):  # the copied banks are the built ones, byte for byte
        for name in ("prototypes.safetensors", "bank.json"):
            assert (tmp_path / "protos" / ename / name).read_bytes() == (tmp_path / "built" / ename / name).read_bytes()
    assert any((tmp_path / "sup").rglob("*.png"))
