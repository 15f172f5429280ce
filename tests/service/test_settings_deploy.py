"""Production-like settings pass ``check --deploy`` without warnings; missing secrets fail loudly."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(args: list[str], env_extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OVDIFF_", "SECURE_"))}
    env.pop("DEBUG", None)
    env.pop("SECRET_KEY", None)
    env.update({"DJANGO_SETTINGS_MODULE": "ovdiff_web.settings", "OVDIFF_DATA_DIR": str(tmp_path), **env_extra})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_check_deploy_is_clean(tmp_path: Path) -> None:
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"],
                     {"DEBUG": "0", "SECRET_KEY": "k9$Qm2!vX7#pL4@wZ8^tR1&yN6*uB3(eH5)jF0_cD-sA+gK=oI", "ALLOWED_HOSTS": "ovdiff.example.org"},
                     tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in (result.stdout + result.stderr)


def test_production_without_secret_key_names_it(tmp_path: Path) -> None:
    result = _manage(["check"], {"DEBUG": "0"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_malformed_env_names_variable(tmp_path: Path) -> None:
    result = _manage(["check"], {"DEBUG": "1", "OVDIFF_MAX_UPLOAD_MB": "lots"}, tmp_path)
    assert result.returncode != 0
    assert "OVDIFF_MAX_UPLOAD_MB" in result.stderr
