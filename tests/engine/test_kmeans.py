"""Torch K-means against known clusterings and sklearn."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from engine.prototypes.kmeans import kmeans


def _blobs(n: int = 3000, k: int = 6, d: int = 16, std: float = 1.0, seed: int = 0):
    x, y = make_blobs(n_samples=n, centers=k, n_features=d, cluster_std=std, random_state=seed, center_box=(-20, 20))
    return torch.from_numpy(x.astype(np.float32)), y


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_recovers_known_clustering():
    x, y = _blobs()
    r = kmeans(x, 6, seed=0, chunk_size=257)  # odd chunk exercises the chunked paths
    assert r.centroids.shape == (6, 16) and r.centroids.dtype == torch.float32
    assert r.labels.dtype == torch.int64 and r.labels.shape == (3000,)
    assert _same_partition(r.labels.numpy(), y)


@pytest.mark.parametrize("seed", [0, 1])
def test_inertia_matches_sklearn(seed: int):
    x, _ = _blobs(n=4000, k=8, d=32, std=4.0, seed=seed)
    r = kmeans(x, 8, seed=seed)
    sk = KMeans(n_clusters=8, n_init=1, random_state=seed).fit(x.numpy())
    assert r.inertia <= sk.inertia_ * 1.01
    # inertia is what it claims to be
    direct = float(((x - r.centroids[r.labels]) ** 2).sum())
    assert abs(direct - r.inertia) / direct < 1e-4


def test_deterministic_for_a_seed():
    x, _ = _blobs(std=6.0)
    a, b = kmeans(x, 5, seed=3), kmeans(x, 5, seed=3)
    assert torch.equal(a.centroids, b.centroids) and torch.equal(a.labels, b.labels)


@pytest.mark.parametrize("seed", range(8))
def test_fewer_points_than_k(seed: int):
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(seed)) * 10 ** (seed % 4)
    r = kmeans(x, 32, seed=seed)
    assert r.centroids.shape == (5, 4) and r.inertia == pytest.approx(0.0, abs=1e-5 * float((x * x).sum()))
    assert sorted(r.labels.tolist()) == [0, 1, 2, 3, 4]


def test_duplicate_points_give_distinct_centroids():
    x = torch.tensor([[0.0, 0.0]] * 10 + [[1.0, 1.0]] * 10 + [[5.0, 5.0]] * 3)
    r = kmeans(x, 8)
    assert r.centroids.shape[0] == 3 and r.inertia == pytest.approx(0.0, abs=1e-6)


def test_float16_input_matches_float32():
    x, y = _blobs()
    r16 = kmeans(x.half(), 6, seed=0, chunk_size=500)
    r32 = kmeans(x.half().float(), 6, seed=0, chunk_size=500)
    assert r16.centroids.dtype == torch.float32
    assert _same_partition(r16.labels.numpy(), y)
    assert r16.inertia == pytest.approx(r32.inertia, rel=1e-5)


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        kmeans(torch.zeros(3), 2)
    with pytest.raises(ValueError):
        kmeans(torch.zeros(0, 3), 2)


def test_float16_chunked_cast_path(monkeypatch):
    import engine.prototypes.kmeans as km

    monkeypatch.setattr(km, "_FULL_CAST_BYTES", 0)  # force per-chunk casting through the reused buffer
    x, y = _blobs()
    a = kmeans(x.half(), 6, seed=0, chunk_size=333)
    b = kmeans(x.half().float(), 6, seed=0, chunk_size=333)
    assert _same_partition(a.labels.numpy(), y)
    assert torch.equal(a.labels, b.labels) and a.inertia == pytest.approx(b.inertia, rel=1e-6)


def test_empty_cluster_is_reseeded_from_farthest_points(monkeypatch):
    import engine.prototypes.kmeans as km

    g = torch.Generator().manual_seed(0)
    blobs = [torch.tensor([c, 0.0]) + 0.1 * torch.randn(20, 2, generator=g) for c in (0.0, 10.0, 20.0)]
    x = torch.cat(blobs)
    init = torch.tensor([[0.0, 0.0], [10.0, 0.0], [100.0, 100.0]])  # third centre wins no point at first
    monkeypatch.setattr(km, "_kmeans_plusplus", lambda *a, **k: init.clone())
    r = kmeans(x, 3)
    truth = np.repeat(np.arange(3), 20)
    assert _same_partition(r.labels.numpy(), truth)
    assert torch.bincount(r.labels, minlength=3).min() == 20
