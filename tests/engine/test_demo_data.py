"""The synthetic demo dataset: offline, deterministic, exact masks, readable by the folder reader."""
from __future__ import annotations

import socket

import numpy as np
import pytest

from engine.evaluation.datasets import open_dataset
from engine.evaluation.demo_data import DEMO_CLASSES, write_demo_dataset
from engine.errors import BadInputError


@pytest.fixture()
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("demo data must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_per_seed(tmp_path, no_network):
    a = _bytes(write_demo_dataset(tmp_path / "a", n_images=4, size=48, seed=1))
    b = _bytes(write_demo_dataset(tmp_path / "b", n_images=4, size=48, seed=1))
    c = _bytes(write_demo_dataset(tmp_path / "c", n_images=4, size=48, seed=2))
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    assert any(a[k] != c[k] for k in a if k.startswith("images/"))
    assert len([k for k in a if k.startswith("images/")]) == 4


def test_readable_and_exact(tmp_path, no_network):
    root = write_demo_dataset(tmp_path / "demo")
    assert "SYNTHETIC" in (root / "README.txt").read_text()
    ds = open_dataset("folder", root)
    assert ds.class_names == list(DEMO_CLASSES) and ds.has_background and len(ds) == 6
    seen = set()
    means = {c: [] for c in range(1, len(DEMO_CLASSES))}
    for s in ds:
        image, labels = ds.load(s)
        assert image.shape == (96, 96, 3)
        seen |= set(np.unique(labels).tolist())
        assert (labels != 0).any()  # every image has at least one textured region
        bg = labels == 0
        for y in range(labels.shape[0]):  # background is a vertical gradient: one colour per row, exactly
            row = image[y][bg[y]]
            if len(row):
                assert (row == row[0]).all()
        for c in means:
            if (labels == c).any():
                means[c].append(image[labels == c].astype(float).mean(0))
    assert seen == set(range(len(DEMO_CLASSES)))
    brick, grass = np.mean(means[1], 0), np.mean(means[2], 0)
    assert brick[0] > brick[1] and grass[1] > grass[0]  # tints: brick reddish, grass green


def test_bad_arguments(tmp_path):
    with pytest.raises(BadInputError):
        write_demo_dataset(tmp_path, n_images=0)
