"""Prototype banks: counts, switches, provenance, streaming, save/load."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import PrototypeConfig
from engine.errors import BadInputError
from engine.prototypes.banks import BankBuilder, build_bank, grid_mask, load_bank, save_bank

H = W = 32  # image size
G = 8  # feature grid
D = 12


def make_support(n: int = 4, seed: int = 0):
    """Features with a planted object (vector e1 + e2 or e1 + e3, half the images each) in a known square."""
    g = torch.Generator().manual_seed(seed)
    feats = 0.05 * torch.randn(n, D, G, G, generator=g)
    feats[:, 0] += 1.0  # background direction everywhere
    fgs, bgs, squares = [], [], []
    for i in range(n):
        y0, x0 = i % 3, (2 * i) % 4
        sq = (slice(y0, y0 + 4), slice(x0, x0 + 4))
        feats[i, :, sq[0], sq[1]] = 0.05 * torch.randn(D, 4, 4, generator=g)
        feats[i, 1 + 1 + (i % 2), sq[0], sq[1]] += 1.0
        feats[i, 1, sq[0], sq[1]] += 1.0
        fg = np.zeros((H, W), bool)
        fg[y0 * 4 : (y0 + 4) * 4, x0 * 4 : (x0 + 4) * 4] = True
        fgs.append(fg)
        bgs.append(~fg)
        squares.append((x0 / G, y0 / G, (x0 + 4) / G, (y0 + 4) / G))
    return feats, fgs, bgs, squares


def test_grid_mask_any_overlap_counts():
    m = np.zeros((32, 32), bool)
    m[0:4, 0:4] = True  # exactly one 8x8 grid cell of a 32x32 image
    gm = grid_mask(m, (8, 8))
    assert gm[0, 0] and gm.sum() >= 1
    assert not grid_mask(np.zeros((32, 32), bool), (8, 8)).any()


def test_counts_and_class_prototype():
    feats, fgs, bgs, _ = make_support()
    bank = build_bank("cat", "dino", feats, fgs, bgs, PrototypeConfig(kmeans_k=3))
    assert bank.fg.shape == (1 + 4 + 3, D) and bank.bg.shape == (1 + 4 + 3, D)
    assert bank.fg.dtype == torch.float32
    kinds = [s.kind for s in bank.fg_sources]
    assert kinds == ["class"] + ["instance"] * 4 + ["part"] * 3
    # class prototype = mean over all masked cells
    cells = torch.cat(
        [feats[i].reshape(D, -1)[:, grid_mask(fgs[i], (G, G)).reshape(-1)].t() for i in range(4)]
    )
    assert torch.allclose(bank.fg[0], cells.float().mean(0), atol=2e-3)  # float16 pool
    assert bank.fg_sources[0].image_index is None and bank.fg_sources[0].size == cells.shape[0]


def test_switches():
    feats, fgs, bgs, _ = make_support()
    only_class = build_bank(
        "cat", "dino", feats, fgs, bgs, PrototypeConfig(use_instance=False, use_parts=False)
    )
    assert only_class.fg.shape == (1, D) and only_class.bg.shape == (1, D)
    no_class = build_bank("cat", "dino", feats, fgs, bgs, PrototypeConfig(use_class=False, kmeans_k=2))
    assert no_class.fg.shape == (4 + 2, D)


def test_fewer_points_than_k_gives_fewer_parts():
    feats, fgs, bgs, _ = make_support(n=1)
    fg = np.zeros((H, W), bool)
    fg[0:4, 0:8] = True  # two grid cells
    bank = build_bank("cat", "dino", feats, [fg], bgs, PrototypeConfig(kmeans_k=32))
    assert [s.kind for s in bank.fg_sources].count("part") <= 2


def test_provenance_points_at_planted_regions():
    feats, fgs, bgs, squares = make_support()
    bank = build_bank("cat", "dino", feats, fgs, bgs, PrototypeConfig(kmeans_k=2), image_indices=[10, 11, 12, 13])
    inst = [s for s in bank.fg_sources if s.kind == "instance"]
    assert [s.image_index for s in inst] == [10, 11, 12, 13]
    for s, sq in zip(inst, squares):
        assert s.box == pytest.approx(sq) and s.size == 16
    parts = [(v, s) for v, s in zip(bank.fg, bank.fg_sources) if s.kind == "part"]
    assert sum(s.size for _, s in parts) == 64
    for v, s in parts:
        # each part is one of the two planted object types (e2 for even images, e3 for odd)
        typ = 2 if v[2] > v[3] else 3
        assert s.image_index in ({10, 12} if typ == 2 else {11, 13})
        assert s.box == pytest.approx(squares[s.image_index - 10]) and s.cluster in (0, 1)


def test_empty_fg_image_is_skipped_entirely():
    feats, fgs, bgs, _ = make_support()
    fgs[1] = np.zeros((H, W), bool)
    b = BankBuilder("cat", "dino", PrototypeConfig(use_parts=False))
    b.add(feats, fgs, bgs)
    bank = b.build()
    assert b.skipped == [1]
    assert [s.image_index for s in bank.fg_sources[1:]] == [0, 2, 3]
    assert [s.image_index for s in bank.bg_sources[1:]] == [0, 2, 3]


def test_no_foreground_anywhere_names_the_class():
    feats, _, bgs, _ = make_support(n=2)
    empty = [np.zeros((H, W), bool)] * 2
    with pytest.raises(BadInputError, match="cat"):
        build_bank("cat", "dino", feats, empty, bgs, PrototypeConfig())


def test_streaming_equals_one_shot():
    feats, fgs, bgs, _ = make_support()
    cfg = PrototypeConfig(kmeans_k=3, pool_dtype="float32")
    one = build_bank("cat", "sd", feats, fgs, bgs, cfg)
    b = BankBuilder("cat", "sd", cfg)
    b.add(feats[:2], fgs[:2], bgs[:2])
    b.add(feats[2:].half(), fgs[2:], bgs[2:])
    two = b.build()
    assert two.fg.shape == one.fg.shape
    assert torch.allclose(one.fg[:5], two.fg[:5], atol=2e-3)
    assert [s.image_index for s in two.fg_sources[1:5]] == [0, 1, 2, 3]


def test_mismatched_inputs_raise():
    feats, fgs, bgs, _ = make_support()
    with pytest.raises(BadInputError, match="masks"):
        build_bank("cat", "dino", feats, fgs[:2], bgs, PrototypeConfig())
    b = BankBuilder("cat", "dino", PrototypeConfig())
    b.add(feats, fgs, bgs)
    with pytest.raises(BadInputError, match="dim"):
        b.add(torch.zeros(1, D + 1, G, G), fgs[:1], bgs[:1])


def test_save_load_roundtrip(tmp_path):
    feats, fgs, bgs, _ = make_support()
    bank = build_bank("cat", "dino", feats, fgs, bgs, PrototypeConfig(kmeans_k=2))
    bank.key, bank.support_key = "k1", "s1"
    save_bank(bank, tmp_path / "b")
    back = load_bank(tmp_path / "b")
    assert torch.equal(back.fg, bank.fg) and torch.equal(back.bg, bank.bg)
    assert back.fg_sources == bank.fg_sources and back.bg_sources == bank.bg_sources
    assert (back.class_name, back.extractor, back.key, back.support_key) == ("cat", "dino", "k1", "s1")
    with pytest.raises(BadInputError):
        load_bank(tmp_path / "missing")


def test_adaptive_parts_follow_the_support_size_and_balance_the_background():
    feats, fgs, bgs, _ = make_support(4)  # fg: 16 cells per image = 64 in all; bg: 48 per image = 192
    fixed = BankBuilder("c", "dino", PrototypeConfig(kmeans_k=8))
    adaptive = BankBuilder("c", "dino", PrototypeConfig(kmeans_k=8, parts_rule="adaptive", parts_patches_per_part=16))
    balanced = BankBuilder("c", "dino", PrototypeConfig(kmeans_k=8, parts_rule="adaptive", parts_patches_per_part=16,
                                                        parts_balance=True))
    few = BankBuilder("c", "dino", PrototypeConfig(kmeans_k=8, parts_rule="adaptive", parts_patches_per_part=100))
    for b in (fixed, adaptive, balanced, few):
        b.add(feats, fgs, bgs)
    assert (fixed.part_count("fg"), fixed.part_count("bg")) == (8, 8)  # the paper's rule: kmeans_k per side
    assert (adaptive.part_count("fg"), adaptive.part_count("bg")) == (4, 8)  # 64 // 16, min(8, 192 // 16)
    assert (balanced.part_count("fg"), balanced.part_count("bg")) == (4, 4)
    assert (few.part_count("fg"), few.part_count("bg")) == (0, 1)
    bank = balanced.build()
    assert sum(s.kind == "part" for s in bank.fg_sources) == 4 and sum(s.kind == "part" for s in bank.bg_sources) == 4
    none = few.build()  # too few fg patches for one part: class and instance prototypes only
    assert {s.kind for s in none.fg_sources} == {"class", "instance"}
