"""The API and task tests again on PostgreSQL (the production database), in a subprocess with DATABASE_URL."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("OVDIFF_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/ovdiff")


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", connect_timeout=2):
            return True
    except Exception:
        return False


def test_service_suite_on_postgres(tmp_path: Path) -> None:
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("already running on PostgreSQL")
    if not _postgres_available():
        pytest.skip("no PostgreSQL at " + PG_URL)
    env = {**os.environ, "DATABASE_URL": PG_URL, "OVDIFF_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-m", "not slow and not e2e", "-p", "no:cacheprovider",
         "tests/service/test_api_vocabularies.py", "tests/service/test_api_runs.py", "tests/service/test_tasks.py",
         "tests/service/test_inputs_never_500.py", "tests/service/test_bounded_work.py", "tests/service/test_audit.py",
         "tests/reliability/test_object_access.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=480)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
