"""Hostile input, generated: schemathesis fuzzes every operation of the project's own OpenAPI schema on a live
server as an authenticated user. Zero 5xx, and every response (status code, content type, headers, body) must
match the schema. Examples per operation are bounded so the run takes about a minute or two on 2 cores."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rest_framework.authtoken.models import Token

from tests.reliability.conftest import OTHER_REDIS, web_broker

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
MAX_EXAMPLES = 5  # about 400 generated cases over the 74 operations (8 gave ~600, 20 gave 1486 in twice the time)
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "response_headers_conformance")


def test_schemathesis_finds_no_server_error_and_no_schema_violation(transactional_db: None, live_server: Any,
                                                                    user: Any, media_root: Path, settings: Any,
                                                                    tmp_path: Path) -> None:
    settings.OVDIFF_QUEUE_PREFIX = "relfuzz-"  # anything the fuzzer manages to queue stays on a private queue
    token = Token.objects.create(user=user).key
    with web_broker(OTHER_REDIS):
        _seed(user)
        result = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{live_server.url}/api/schema/?format=json",
             "-H", f"Authorization: Token {token}", "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
             "--mode", "all",  # schema-valid AND wrong-type / out-of-schema (negative) cases
             "--phases", "examples,fuzzing,stateful", "--seed", "8", "--workers", "2", "--no-color",
             "--exclude-path", "/api/auth/token/revoke/",  # would end the session; tested in test_access
             "--request-timeout", "30", "--generation-database", "none"],
            cwd=tmp_path, capture_output=True, text=True, timeout=360)
    output = result.stdout + result.stderr
    (Path(__file__).resolve().parents[2] / "test-artifacts").mkdir(exist_ok=True)
    (Path(__file__).resolve().parents[2] / "test-artifacts" / "schemathesis.txt").write_text(output)
    assert result.returncode == 0, output[-6000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) >= 200, output[-2000:]
    tested = re.search(r"Tested:\s+(\d+)", output)
    assert tested and int(tested.group(1)) >= 30, output[-2000:]


def test_the_same_fuzzing_on_postgresql(tmp_path: Path) -> None:
    """PostgreSQL refuses what SQLite stores (NUL in text, over-long varchar, out-of-range integers): fuzz it too."""
    import os

    from tests.service.test_postgres import PG_URL, _postgres_available

    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("already running on PostgreSQL")
    if not _postgres_available():
        pytest.skip("no PostgreSQL at " + PG_URL)
    env = {**os.environ, "DATABASE_URL": PG_URL.rsplit("/", 1)[0] + f"/ovdiff_fuzz{os.getpid()}",
           "OVDIFF_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                             f"{__file__}::test_schemathesis_finds_no_server_error_and_no_schema_violation"],
                            cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True,
                            timeout=420)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def _seed(user: Any) -> None:
    """Objects with low ids (vocabulary, classes, dataset, a queued run) so detail operations are not all 404."""
    from rest_framework.test import APIClient

    from tests.reliability.conftest import upload_demo

    client = APIClient()
    client.force_authenticate(user)
    assert client.post("/api/vocabularies/", {"name": "seed", "names": "cat, sky"}, format="json").status_code == 201
    dataset_id = upload_demo(client, name="seed", n_images=2)
    assert client.post("/api/runs/", {"dataset": dataset_id}, format="json").status_code == 201
