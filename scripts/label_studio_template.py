"""A migrated Label Studio data directory (SQLite database, the tests' user, its legacy API token), built once per
Label Studio version and credentials, which each integration test copies before its ``label-studio start``: the
start then skips the migrations (minutes on a busy 2-core machine) and still runs a real, fresh server per copy.

Run with the Label Studio venv's python (stdlib only, so ``scripts/install_label_studio.sh`` can call it):
    .venv-ls/bin/python scripts/label_studio_template.py [--root DIR] [--username U --password P --token T]
It prints the template's path. Concurrent callers (pytest-xdist workers) wait on a lock file; the template is
built in a scratch directory and renamed into place, so a reader never sees half of one."""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

# The credentials the integration tests sign in with (tests/integrations/label_studio.py passes its own; they are
# part of the template's key, so a mismatch only costs a second build).
USER = "tester@example.com"
PASSWORD = "tester-pw-123456"
TOKEN = "ovdiff-test-ls-token-0123456789"
PREFIX = "ovdiff-template-"
READY = ".ovdiff-template-ready"


def server_env(data: Path) -> dict[str, str]:
    """The environment the tests start Label Studio with: no version check, analytics or Sentry; loopback ML
    backends allowed; none of ovdiff's own Django/database/Redis settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", "REDIS"))}
    env.update(USE_DEFAULT_BANNED_SUBNETS="false", LATEST_VERSION_CHECK="false", LABEL_STUDIO_BASE_DATA_DIR=str(data),
               SENTRY_DSN="", FRONTEND_SENTRY_DSN="", COLLECT_ANALYTICS="false", DEBUG="false")
    return env


def template_name(username: str, password: str, token: str) -> str:
    key = hashlib.sha256(f"{username}\n{password}\n{token}\nlegacy".encode()).hexdigest()[:12]
    return f"{PREFIX}{version('label-studio')}-{key}"


def ensure_template(root: Path, username: str = USER, password: str = PASSWORD, token: str = TOKEN) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    target = root / template_name(username, password, token)
    if (target / READY).is_file():
        return target
    with open(root / ".ovdiff-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it: wait, then use its template
        if (target / READY).is_file():
            return target
        for stale in root.glob(PREFIX + "*"):  # another version or other credentials
            shutil.rmtree(stale, ignore_errors=True)
        scratch = Path(tempfile.mkdtemp(prefix=".ovdiff-template-build-", dir=root))
        try:
            data = scratch / "data"
            binary = Path(sys.executable).parent / "label-studio"
            done = subprocess.run(
                [str(binary), "init", "--data-dir", str(data), "--username", username,
                 "--password", password, "--user-token", token, "--enable-legacy-api-token"],
                cwd=scratch, env=server_env(data), stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if done.returncode != 0 or not (data / "label_studio.sqlite3").is_file():
                raise SystemExit(f"label-studio init failed ({done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")
            (data / ".env").unlink(missing_ok=True)  # its random SECRET_KEY: each copy's start makes its own
            (data / READY).write_text(template_name(username, password, token) + "\n")
            data.rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def copy_template(template: Path, data: Path) -> None:
    """A fresh data directory of its own (its own SQLite file) from the template."""
    shutil.copytree(template, data, ignore=shutil.ignore_patterns(READY, ".env"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(sys.executable).parent.parent,
                        help="where templates live (default: the Label Studio venv)")
    parser.add_argument("--username", default=USER)
    parser.add_argument("--password", default=PASSWORD)
    parser.add_argument("--token", default=TOKEN)
    args = parser.parse_args()
    print(ensure_template(args.root, args.username, args.password, args.token))


if __name__ == "__main__":
    main()
