"""Golden test: class, instance and part (k-means) prototypes of one class, under the ``sdov`` profile.

Reference written from karazijal/sdov (commit 218566b), shares no code with engine/ (numpy / torch only):
- gen_proto_sd.py ``main`` (lines 226-300; gen_proto_vit.py is the same rule): each mask is resized to the feature
  grid with ``F.interpolate(mode="bilinear")`` then ``.bool()``; an image whose fg is empty on the grid is skipped
  (its bg too); ``_ind`` = per-image mean of the masked cells, the class prototype = mean over every masked cell
  of every image, ``_kmeans`` = ``kmeans_fn`` (sklearn ``KMeans(k=32, random_state=0)``) on all masked cells;
- protos.py ``build_prototypes`` (lines 187-190, 219-229, feat_mode="all"): the bank is [class, instances, parts]
  for fg and bg; non-finite bg rows (an empty bg gives a NaN instance) are dropped.
sklearn's exact k-means run cannot be restated without sklearn (its RNG stream); the reference checks what any
converged k-means returns: on well-separated clusters the centroids ARE the clusters' means, and on real features
every part is the mean of the cells nearest to it (Lloyd's fixed point).
Tolerances: class/instance 1e-5 absolute (float32 vs the engine's float64 sums); parts 2e-3 relative to the
feature scale, because the sdov pool is float16 (``pool_dtype``; the code clusters float32) - stated, not hidden.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from golden_inputs import photo
from PIL import Image

from engine.profile_sdov import sdov_config
from engine.prototypes.banks import BankBuilder

SDOV = sdov_config().prototypes


def ref_pools(feats: torch.Tensor, fg: list[np.ndarray], bg: list[np.ndarray]) -> dict[str, list[torch.Tensor]]:
    """Masked cells per image and side, images with an empty fg on the grid skipped."""
    _, d, h, w = feats.shape
    out: dict[str, list[torch.Tensor]] = {"fg": [], "bg": []}
    for f, fm, bm in zip(feats, fg, bg):
        cmap, bgmap = (F.interpolate(torch.from_numpy(m).float()[None, None], size=(h, w), mode="bilinear")[0]
                       .bool().flatten() for m in (fm, bm))
        if cmap.sum() == 0:
            continue
        cells = f.reshape(d, h * w).T
        out["fg"].append(cells[cmap])
        out["bg"].append(cells[bgmap])
    return out


def ref_class_and_instances(pieces: list[torch.Tensor]) -> torch.Tensor:
    inst = torch.stack([p.mean(0) for p in pieces])
    inst = inst[inst.isfinite().any(-1)]  # protos.py:228
    return torch.cat([torch.cat(pieces).mean(0, keepdim=True), inst])


def build(feats: torch.Tensor, fg: list[np.ndarray], bg: list[np.ndarray], **over):
    cfg = SDOV.__class__(**{**SDOV.__dict__, **over})
    builder = BankBuilder("c", "sd", cfg)
    builder.add(feats, fg, bg)
    return builder.build()


def _rects(rng: np.random.Generator, n: int, size: int) -> list[np.ndarray]:
    out = []
    for _ in range(n):
        m = np.zeros((size, size), bool)
        y, x = rng.integers(0, size - 8, 2)
        m[y : y + int(rng.integers(6, size // 2)), x : x + int(rng.integers(6, size // 2))] = True
        out.append(m)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_class_and_instance_prototypes_on_random_features(seed):
    rng = np.random.default_rng(seed)
    feats = torch.from_numpy(rng.standard_normal((5, 6, 8, 8)).astype(np.float32))
    fg = _rects(rng, 5, 64)
    fg[seed % 5][:] = False  # a failed generation: skipped, its bg too
    bg = [~m for m in fg]
    bg[(seed + 1) % 5][:] = False  # an empty bg: a NaN instance in the code, dropped
    bank = build(feats, fg, bg, kmeans_k=3)
    ref = ref_pools(feats, fg, bg)
    for side, got in (("fg", bank.fg), ("bg", bank.bg)):
        want = ref_class_and_instances(ref[side])
        assert got.shape[0] == want.shape[0] + 3
        assert torch.allclose(got[: want.shape[0]], want, atol=1e-5)


def _photo_features(name: str, grid: int = 16, patch: int = 4) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Real features: the photo at grid*patch px, each cell the (patch*patch*3) pixel values of its patch (in
    [0, 1]); masks at 64 px from luminance bands (irregular real regions)."""
    img = np.asarray(Image.fromarray(photo(name)).resize((grid * patch,) * 2, Image.Resampling.BILINEAR)) / 255.0
    cells = img.reshape(grid, patch, grid, patch, 3).transpose(1, 3, 4, 0, 2).reshape(-1, grid, grid)
    lum = np.asarray(Image.fromarray(photo(name)).convert("L").resize((64, 64), Image.Resampling.BILINEAR)) / 255.0
    return torch.from_numpy(cells.astype(np.float32)), [(lum > 0.3) & (lum < 0.7), lum > 0.6, lum < 0.25]


def test_prototypes_on_photo_features():
    names = ["astronaut", "coffee", "chelsea", "rocket"]
    data = [_photo_features(n) for n in names]
    feats = torch.stack([f for f, _ in data])
    fg = [m[0] for _, m in data]
    bg = [m[2] for _, m in data]
    bank = build(feats, fg, bg, kmeans_k=8)
    ref = ref_pools(feats, fg, bg)
    for side, got in (("fg", bank.fg), ("bg", bank.bg)):
        want = ref_class_and_instances(ref[side])
        n = want.shape[0]
        assert torch.allclose(got[:n], want, atol=1e-5)
        parts, pool = got[n:], torch.cat(ref[side])
        assert parts.shape[0] == 8
        nearest = torch.cdist(pool.double(), parts.double()).argmin(1)
        for j in range(parts.shape[0]):  # Lloyd's fixed point: each part is the mean of the cells nearest to it
            members = pool[nearest == j]
            assert members.shape[0] > 0
            assert (parts[j] - members.mean(0)).abs().max() < 2e-3 * pool.abs().max()


def test_part_prototypes_are_the_cluster_means_on_separated_clusters():
    """sdov's k = 32 parts on a pool of 32 well-separated clusters (sklearn's KMeans finds exactly these)."""
    rng = np.random.default_rng(0)
    k, d, n_img, g = SDOV.kmeans_k, 16, 4, 16
    centres = rng.standard_normal((k, d)) * 10
    labels = rng.integers(0, k, (n_img, g * g))
    labels[:, :k] = np.arange(k)  # every cluster present in every image's fg
    feats = centres[labels] + 0.05 * rng.standard_normal((n_img, g * g, d))
    feats_t = torch.from_numpy(feats.transpose(0, 2, 1).reshape(n_img, d, g, g).astype(np.float32))
    full = [np.ones((64, 64), bool)] * n_img
    bank = build(feats_t, full, [~m for m in full])
    assert SDOV.kmeans_k == 32 and bank.fg.shape[0] == 1 + n_img + k
    parts = bank.fg[1 + n_img :].double()
    pool = torch.from_numpy(feats.reshape(-1, d))
    flat = labels.reshape(-1)
    means = torch.stack([pool[torch.from_numpy(flat == j)].mean(0) for j in range(k)])
    match = torch.cdist(means, parts).argmin(1)
    assert sorted(match.tolist()) == list(range(k))  # one part per cluster
    assert (parts[match] - means).abs().max() < 2e-3 * pool.abs().max()


def test_sdov_prototype_settings_are_the_codes():
    """gen_proto_sd.py:39 --kmeans 32 on raw features; protos.py feat_mode="all" uses class, instances and parts."""
    assert (SDOV.kmeans_k, SDOV.use_class, SDOV.use_instance, SDOV.use_parts) == (32, True, True, True)
