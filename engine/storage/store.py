"""Content-addressed artifact store with atomic directory writes.

Layout: ``<root>/<kind>/<key[:2]>/<key>/`` holding the artifact's files and a ``COMPLETE`` marker written last.
A writer fills a fresh temp dir next to the final one (same filesystem) and renames it into place, so a reader
sees either nothing or a complete artifact. A directory without the marker (crash, foreign copy) is never
treated as valid and is replaced by the next successful write. Two processes building the same key may both
compute it; the first rename wins and the loser discards its copy (the contents are equal by construction).
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from engine.errors import BadInputError

MARKER = "COMPLETE"
_TMP_PREFIX = ".tmp-"
_TRASH_PREFIX = ".trash-"
_KIND_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]+$")


class ArtifactStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # --- addressing ---------------------------------------------------------------------------------------
    def path(self, kind: str, key: str) -> Path:
        """Final directory of an artifact (it may not exist). Rejects names that could escape the root."""
        if not _KIND_RE.match(kind):
            raise BadInputError("artifact kind must be lowercase letters, digits, - or _", kind)
        if not _KEY_RE.match(key):
            raise BadInputError("artifact key must be at least 2 letters, digits, - or _", key)
        return self.root / kind / key[:2] / key

    def exists(self, kind: str, key: str) -> bool:
        """True only for a complete artifact."""
        return (self.path(kind, key) / MARKER).is_file()

    # --- writing ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, kind: str, key: str) -> Iterator[Path]:
        """Yield a temp dir to fill; on success it becomes ``path(kind, key)``, on exception it is removed."""
        final = self.path(kind, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{key}-", dir=final.parent))
        try:
            yield tmp
            (tmp / MARKER).write_text(f"{time.time():.3f}\n")
            self._publish(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _publish(self, tmp: Path, final: Path) -> None:
        # Rename first: it succeeds only when ``final`` is absent (or an empty leftover), so a complete artifact,
        # which always holds its marker, is never replaced. Checking the marker before renaming left a window in
        # which a racer's fresh rename looked like an incomplete leftover and was discarded.
        for _ in range(8):
            try:
                os.rename(tmp, final)
                return
            except OSError:
                pass  # final exists and is not empty
            if (final / MARKER).is_file():
                return  # someone else finished first: cache hit, our copy is discarded by the caller
            self._discard_incomplete(final)
        raise OSError(f"could not publish artifact {final}")

    def _discard_incomplete(self, final: Path) -> None:
        """Move an incomplete leftover aside; should a racer have completed it meanwhile, put it back."""
        trash = self._move_aside(final)
        if trash is None:
            return
        if (trash / MARKER).is_file():
            try:
                os.rename(trash, final)  # it was complete after all: restore it
                return
            except OSError:
                pass  # another complete copy took its place meanwhile
        shutil.rmtree(trash, ignore_errors=True)

    def _move_aside(self, d: Path) -> Path | None:
        trash = d.parent / f"{_TRASH_PREFIX}{d.name}-{os.getpid()}-{time.monotonic_ns()}"
        try:
            os.rename(d, trash)
        except OSError:
            return None  # gone already, or another process moved it first
        return trash

    def _discard(self, d: Path) -> None:
        """Move a directory aside atomically, then delete it (tolerates another process doing the same)."""
        trash = self._move_aside(d)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)

    def get_or_build(self, kind: str, key: str, build: Callable[[Path], None]) -> Path:
        """Path of the complete artifact, calling ``build(tmp_dir)`` only when it does not exist yet."""
        if not self.exists(kind, key):
            with self.writing(kind, key) as tmp:
                build(tmp)
        return self.path(kind, key)

    # --- housekeeping -------------------------------------------------------------------------------------
    def kinds(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _KIND_RE.match(p.name))

    def keys(self, kind: str) -> list[str]:
        """Keys of the complete artifacts of one kind."""
        base = self.root / kind
        if not base.is_dir():
            return []
        return sorted(
            p.name
            for shard in base.iterdir()
            if shard.is_dir()
            for p in shard.iterdir()
            if _KEY_RE.match(p.name) and (p / MARKER).is_file()
        )

    def remove(self, kind: str, key: str) -> bool:
        """Delete an artifact (complete or not); True when something was there."""
        final = self.path(kind, key)
        if not final.exists():
            return False
        self._discard(final)
        return True

    def size(self, kind: str | None = None) -> int:
        """Bytes on disk under one kind (or the whole store)."""
        base = self.root / kind if kind else self.root
        if not base.exists():
            return 0
        return sum(f.stat().st_size for f in base.rglob("*") if f.is_file())

    def sweep(self, max_age_s: float = 24 * 3600) -> int:
        """Remove temp/trash dirs older than ``max_age_s`` (left by killed writers); returns how many."""
        if not self.root.is_dir():
            return 0
        now, n = time.time(), 0
        for kind in self.kinds():
            for shard in (self.root / kind).iterdir():
                if not shard.is_dir():
                    continue
                for p in shard.iterdir():
                    if p.name.startswith((_TMP_PREFIX, _TRASH_PREFIX)) and now - p.stat().st_mtime > max_age_s:
                        shutil.rmtree(p, ignore_errors=True)
                        n += 1
        return n
