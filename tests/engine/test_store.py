"""ArtifactStore: atomic writes, cache hits, incomplete dirs never read, racing writers."""
from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from engine.errors import BadInputError
from engine.storage.store import MARKER, ArtifactStore

KEY = "ab12cd34"


def test_layout_and_cache_hit_does_not_rebuild(tmp_path):
    store = ArtifactStore(tmp_path)
    calls = []

    def build(d: Path) -> None:
        calls.append(d)
        (d / "x.txt").write_text("hello")

    p = store.get_or_build("bank", KEY, build)
    assert p == tmp_path / "bank" / "ab" / KEY
    assert (p / "x.txt").read_text() == "hello" and (p / MARKER).is_file()
    assert store.get_or_build("bank", KEY, build) == p
    assert len(calls) == 1
    assert store.exists("bank", KEY) and store.kinds() == ["bank"] and store.keys("bank") == [KEY]
    assert store.size("bank") > 5
    assert [x.name for x in p.parent.iterdir()] == [KEY]  # no temp dirs left


def test_exception_mid_write_leaves_nothing(tmp_path):
    store = ArtifactStore(tmp_path)

    def build(d: Path) -> None:
        (d / "half.bin").write_bytes(b"\0" * 10)
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        store.get_or_build("support", KEY, build)
    assert not store.exists("support", KEY)
    assert not store.path("support", KEY).exists()
    assert list(store.path("support", KEY).parent.iterdir()) == []


def test_directory_without_marker_is_not_valid_and_gets_replaced(tmp_path):
    store = ArtifactStore(tmp_path)
    final = store.path("bank", KEY)
    final.mkdir(parents=True)
    (final / "stale.txt").write_text("half-written")
    assert not store.exists("bank", KEY) and store.keys("bank") == []
    calls = []

    def build(d: Path) -> None:
        calls.append(1)
        (d / "new.txt").write_text("new")

    store.get_or_build("bank", KEY, build)
    assert calls == [1] and store.exists("bank", KEY)
    assert not (final / "stale.txt").exists() and (final / "new.txt").read_text() == "new"


def test_writing_when_already_complete_discards_the_new_copy(tmp_path):
    store = ArtifactStore(tmp_path)
    with store.writing("bank", KEY) as d:
        (d / "v").write_text("first")
    with store.writing("bank", KEY) as d:
        (d / "v").write_text("second")
    assert (store.path("bank", KEY) / "v").read_text() == "first"
    assert len(list(store.path("bank", KEY).parent.iterdir())) == 1


def test_remove_and_bad_names(tmp_path):
    store = ArtifactStore(tmp_path)
    store.get_or_build("bank", KEY, lambda d: None)
    assert store.remove("bank", KEY) and not store.exists("bank", KEY)
    assert not store.remove("bank", KEY)
    for kind, key in [("../x", KEY), ("bank", "../../etc"), ("bank", "a"), ("Bank", KEY)]:
        with pytest.raises(BadInputError):
            store.path(kind, key)


def _racer(root: str, barrier, tag: str, keys: int) -> None:
    store = ArtifactStore(root)
    missing = []
    for k in range(keys):
        key = f"{KEY}{k:03d}"
        with store.writing("bank", key) as d:
            (d / "who").write_text(tag)
            for i in range(20):
                (d / f"f{i}").write_text(tag * 100)
            barrier.wait(timeout=60)  # both publish the same key at the same moment
        if not store.exists("bank", key):
            missing.append(key)
    assert not missing, f"a finished write was not visible: {missing}"


def test_two_processes_racing(tmp_path):
    """Both writers of a key see it complete once their write returns; neither removes the other's copy."""
    # spawn, not fork: forking a test process that already runs threads (browser driver, torch pools) can
    # deadlock the child on an inherited lock.
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    keys = 60
    procs = [ctx.Process(target=_racer, args=(str(tmp_path), barrier, t, keys), daemon=True) for t in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    for p in procs:
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0, 0]
    store = ArtifactStore(tmp_path)
    for k in range(keys):
        final = store.path("bank", f"{KEY}{k:03d}")
        who = (final / "who").read_text()
        assert who in ("a", "b") and all((final / f"f{i}").read_text() == who * 100 for i in range(20))
    for shard in (tmp_path / "bank").iterdir():
        assert all(not x.name.startswith((".tmp-", ".trash-")) for x in shard.iterdir())


def test_a_leftover_completed_by_a_racer_is_put_back(tmp_path, monkeypatch):
    """A writer that finds an incomplete leftover moves it aside; if a racer completed it meanwhile, it stays."""
    store = ArtifactStore(tmp_path)
    final = store.path("bank", KEY)
    final.mkdir(parents=True)
    (final / "junk").write_text("half")
    real_move = ArtifactStore._move_aside

    def racer_completes_first(self, d):
        # between our look at the leftover and our move, a racer replaces it with its complete copy
        monkeypatch.setattr(ArtifactStore, "_move_aside", real_move)
        with ArtifactStore(tmp_path).writing("bank", KEY) as other:
            (other / "who").write_text("racer")
        return real_move(self, d)

    monkeypatch.setattr(ArtifactStore, "_move_aside", racer_completes_first)
    with store.writing("bank", KEY) as d:
        (d / "who").write_text("us")
    assert store.exists("bank", KEY)
    assert (final / "who").read_text() == "racer" and not (final / "junk").exists()
    assert [x.name for x in final.parent.iterdir()] == [KEY]
