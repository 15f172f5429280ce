"""Atomic writes: the target appears whole or not at all, and no temp file is left behind."""
from __future__ import annotations

import pytest

from engine.storage.atomic import atomic_write


def test_target_appears_only_when_complete(tmp_path):
    target = tmp_path / "sub" / "out.json"
    atomic_write(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new"

    def fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_text() == "new", "a failed write must not touch what was stored before"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"], "no temp file left behind"
