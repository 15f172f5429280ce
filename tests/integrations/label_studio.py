"""A real Label Studio server for the integration tests: ``label-studio start`` from its own virtual environment
(``scripts/install_label_studio.sh``; found through OVDIFF_LABEL_STUDIO_BIN, default ``.venv-ls/bin/label-studio``),
a temporary data directory (SQLite), a user with a legacy API token, loopback ML backends allowed
(``USE_DEFAULT_BANNED_SUBNETS=false``). The data directory is a copy of a migrated template
(``scripts/label_studio_template.py``: built at install, or here on first use), so a start skips the migrations."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from scripts.label_studio_template import copy_template, server_env

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ovdiff-test-ls-token-0123456789"
USER = "tester@example.com"
PASSWORD = "tester-pw-123456"


def label_studio_bin() -> Path:
    return Path(os.environ.get("OVDIFF_LABEL_STUDIO_BIN", str(ROOT / ".venv-ls" / "bin" / "label-studio")))


def template_root(binary: Path) -> Path:
    """Where the migrated data-directory templates live: OVDIFF_LABEL_STUDIO_TEMPLATES, default the venv."""
    return Path(os.environ.get("OVDIFF_LABEL_STUDIO_TEMPLATES", str(binary.parent.parent)))


def ensure_template(binary: Path) -> Path:
    """The migrated template for this Label Studio and these credentials; built (about as long as one first start,
    once per version, other workers wait on its lock) when the install did not build it."""
    done = subprocess.run(
        [str(binary.parent / "python"), str(ROOT / "scripts" / "label_studio_template.py"),
         "--root", str(template_root(binary)), "--username", USER, "--password", PASSWORD, "--token", TOKEN],
        capture_output=True, text=True, timeout=1500)
    if done.returncode != 0:
        pytest.fail(f"could not build the Label Studio template:\n{(done.stdout + done.stderr)[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabelStudio:
    url: str
    token: str
    log: Path
    python: Path

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        kwargs.setdefault("timeout", 30)
        headers = {"Authorization": f"Token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text[:2000]}"
        return response.json() if response.content else None


def start_label_studio(tmp_path: Path) -> Iterator[LabelStudio]:
    """A fresh Label Studio; or, with OVDIFF_LABEL_STUDIO_URL, one already running (started as here: the same
    user, password and token), so a developer re-running a test does not wait for its start each time."""
    binary = label_studio_bin()
    running = os.environ.get("OVDIFF_LABEL_STUDIO_URL")
    if running:
        yield LabelStudio(url=running.rstrip("/"), token=TOKEN, log=tmp_path / "label-studio.log",
                          python=binary.parent / "python")
        return
    if not binary.is_file():
        pytest.skip(f"Label Studio is not installed at {binary} (run scripts/install_label_studio.sh, or point "
                    "OVDIFF_LABEL_STUDIO_BIN at a label-studio executable)")
    port = free_port()
    data = tmp_path / "ls-data"
    log = tmp_path / "label-studio.log"
    copy_template(ensure_template(binary), data)  # its own SQLite file: nothing is shared between starts
    env = server_env(data)
    out = open(log, "w")
    proc = subprocess.Popen(
        [str(binary), "start", "--no-browser", "--port", str(port), "--data-dir", str(data), "--username", USER,
         "--password", PASSWORD, "--user-token", TOKEN, "--enable-legacy-api-token"],
        cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    ls = LabelStudio(url=f"http://127.0.0.1:{port}", token=TOKEN, log=log, python=binary.parent / "python")
    try:
        _wait_up(ls, proc)
        yield ls
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()


def _wait_up(ls: LabelStudio, proc: subprocess.Popen, timeout: float = 420.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"label-studio exited early:\n{ls.log.read_text()[-4000:]}")
        try:
            if ls.request("GET", "/api/projects/", timeout=3).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    pytest.fail(f"label-studio did not answer in {timeout} s:\n{ls.log.read_text()[-4000:]}")
