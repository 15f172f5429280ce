"""Golden tests of the segmentation rules against compact re-statements of the authors' code (karazijal/sdov):
window layout, score aggregation and averaging, deselected classes and the final label rule (predict.py),
the CLIP pre-filter's subset search (utils/clip_class.py) and the stuff filter (protos.py)."""
from __future__ import annotations

import hashlib
from itertools import chain, combinations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.config import SegmentConfig
from engine.segment.prefilter import CategoryPrefilter
from engine.segment.segmenter import Segmenter, label_from_scores
from engine.segment.stuff import background_keep_masks
from engine.segment.windows import resize_short_side, window_boxes
from engine.types import ClassSpec, PrototypeBank, ProtoSource

SMALL = SegmentConfig(short_side=112, window_sizes=(112, 84), window_stride=56, category_prefilter=False)


def ref_windows(h: int, w: int, crops=(448, 336), strides=(224, 224)) -> list[tuple[int, int, int, int]]:
    """predict.py:562-585: mmseg slide grid per crop size, then the whole image."""
    out = []
    for crop, stride in zip(crops, strides):
        for hi in range(max(h - crop + stride - 1, 0) // stride + 1):
            for wi in range(max(w - crop + stride - 1, 0) // stride + 1):
                y2, x2 = min(hi * stride + crop, h), min(wi * stride + crop, w)
                out.append((max(y2 - crop, 0), max(x2 - crop, 0), y2, x2))
    return out + [(0, 0, h, w)]


@pytest.mark.parametrize("seed", range(20))
def test_window_layout_matches_the_code(seed):
    h, w = (int(v) for v in np.random.default_rng(seed).integers(300, 1400, 2))
    ours = [(b.y0, b.x0, b.y1, b.x1) for b in window_boxes(h, w, SegmentConfig())]
    assert ours == ref_windows(h, w)


class PatchConv(torch.nn.Module):
    """A real (random, seeded) patch-embedding extractor: (B, 3, H, W) -> (B, D, H/8, W/8)."""

    def __init__(self, dim: int = 6) -> None:
        super().__init__()
        self.name, self.dim = "conv", dim
        self.conv = torch.nn.Conv2d(3, dim, 8, stride=8)
        with torch.no_grad():
            g = torch.Generator().manual_seed(0)
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g) * 0.2)
            self.conv.bias.copy_(torch.randn(dim, generator=g) * 0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x * 2 - 1)


def ref_segment(work: np.ndarray, out_hw: tuple[int, int], ext: PatchConv, fg: list[torch.Tensor],
                bg: list[torch.Tensor], selected: list[int], cfg: SegmentConfig) -> np.ndarray:
    """predict.py:541-645 with bgmode "all": masked max over prototypes per class (-1 where a class or its bg
    prototypes are deselected), bg = max over the bg level, bilinear to the crop, clamp [-1, 1], average over
    windows by coverage; bilinear to the original size; scores <= 0 zeroed; first index of the max wins."""
    img = torch.from_numpy(work).permute(2, 0, 1).float() / 255
    h, w = img.shape[1:]
    n = len(fg)
    total, counts = torch.zeros(n + 1, h, w), torch.zeros(n + 1, h, w)
    for y1, x1, y2, x2 in ref_windows(h, w, cfg.window_sizes, (cfg.window_stride,) * len(cfg.window_sizes)):
        with torch.no_grad():
            f = ext(img[None, :, y1:y2, x1:x2])[0].permute(1, 2, 0)
        f = f / f.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        level = []
        for protos in (bg, fg):  # l = 0 (bg of class c), l = 1 (fg of class c)
            per_class = []
            for c, p in enumerate(protos):
                sim = torch.einsum("hwf,kf->khw", f, F.normalize(p, dim=-1)) if p.shape[0] else None
                if sim is None or c not in selected:
                    sim = torch.full((1, *f.shape[:2]), -1.0)
                per_class.append(sim.max(0).values)
            level.append(torch.stack(per_class))
        agg = torch.cat([level[0].max(0, keepdim=True).values, level[1]])
        agg = F.interpolate(agg[None], size=(y2 - y1, x2 - x1), mode="bilinear", align_corners=False)[0]
        total[:, y1:y2, x1:x2] += agg.clamp(-1, 1)
        counts[:, y1:y2, x1:x2] += 1
    avg = F.interpolate((total / counts.clamp_min(1))[None], size=out_hw, mode="bilinear", align_corners=False)[0]
    return torch.where(avg > 0, avg, torch.zeros_like(avg)).max(0).indices.numpy()


class FixedChoice:
    """The pre-filter's decision as an input: which classes this image keeps."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def __call__(self, image: np.ndarray, classes: list[ClassSpec]) -> list[str]:
        return [c.name for c in classes if c.name in self.names]


def _bank(name: str, fg: torch.Tensor, bg: torch.Tensor) -> PrototypeBank:
    src = lambda m, n: [ProtoSource("instance", m, i) for i in range(n)]  # noqa: E731
    return PrototypeBank(name, "conv", fg, bg, src("fg", len(fg)), src("bg", len(bg)))


@pytest.mark.parametrize("seed", range(5))
def test_segmentation_scores_windows_and_labels_match_the_code(seed):
    """Stuff filter off here (tested below). Deselected classes score -1 in the code and are never matched here:
    the labels are the same because a zeroed -1 never beats background (first index on ties)."""
    rng = np.random.default_rng(seed)
    ext = PatchConv()
    names = ["a", "b", "c", "d"]
    fg = [torch.from_numpy(rng.standard_normal((int(rng.integers(1, 5)), 6)).astype(np.float32)) for _ in names]
    bg = [torch.from_numpy(rng.standard_normal((int(rng.integers(0, 4)), 6)).astype(np.float32)) for _ in names]
    keep = [i for i in range(4) if rng.random() < 0.7]
    cfg = SegmentConfig(**{**SMALL.__dict__, "stuff_filter": False, "category_prefilter": True})
    classes = [ClassSpec(n) for n in names]
    seg = Segmenter(cfg, {"conv": ext}, {n: {"conv": _bank(n, f, b)} for n, f, b in zip(names, fg, bg)}, classes,
                    FixedChoice([names[i] for i in keep]))
    image = (rng.random((int(rng.integers(90, 160)), int(rng.integers(90, 160)), 3)) * 255).astype(np.uint8)
    ours = seg(image).labels
    work = resize_short_side(image, cfg.short_side)
    assert np.array_equal(ours, ref_segment(work, image.shape[:2], ext, fg, bg, keep, cfg))


@pytest.mark.parametrize("seed", range(20))
def test_label_rule_zeroes_nonpositive_and_ties_go_to_the_first_channel(seed):
    """predict.py:637-645: where(score > 0, score, 0), then the first index of the max."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.tensor([-1.0, 0.0, 0.25, 0.5])[torch.randint(0, 4, (5, 9, 9), generator=g)]  # many ties
    ref = torch.where(scores > 0, scores, torch.zeros_like(scores)).max(dim=0).indices
    assert torch.equal(label_from_scores(scores, zero_nonpositive=True), ref)


def _powerset(items):
    """clip_class.py:12-15."""
    return chain.from_iterable(combinations(items, r) for r in range(1, len(items) + 1))


def ref_prefilter(sim, classes: list[ClassSpec], topk: int = 10) -> set[str]:
    """clip_class.py:150-187 (softmax over raw cosines, >= 1/|C|, cap at topk by masked probability, best
    "a X and a Y" subset) plus predict.py:525-531 (stuff classes always added)."""
    things = [c for c in classes if not c.is_stuff]
    scores = torch.tensor([sim("a " + c.text) for c in things])
    probs = torch.softmax(scores, dim=-1)
    tp = probs >= 1 / len(things)
    inds = torch.where(tp)[0].tolist() or torch.topk(scores, topk).indices.tolist()
    if len(inds) > topk:
        inds = torch.topk(torch.where(tp, probs, torch.zeros_like(probs)), topk).indices.tolist()
    combs = list(_powerset(inds))
    best = int(torch.tensor([sim(" and ".join("a " + things[i].text for i in comb)) for comb in combs]).argmax())
    return {things[i].name for i in combs[best]} | {c.name for c in classes if c.is_stuff}


@pytest.mark.parametrize("seed", range(12))
def test_prefilter_subset_search_matches_the_code(seed):
    def sim(prompt: str) -> float:  # a fixed image's cosine to a prompt: seeded by the prompt text
        h = int(hashlib.sha256(f"{seed}:{prompt}".encode()).hexdigest()[:8], 16)
        return 0.15 + 0.2 * h / 0xFFFFFFFF

    rng = np.random.default_rng(seed)
    classes = [ClassSpec(f"class{i}", is_stuff=bool(rng.random() < 0.2)) for i in range(int(rng.integers(3, 40)))]
    pre = CategoryPrefilter(lambda image, prompts: torch.tensor([sim(p) for p in prompts]), SegmentConfig())
    assert set(pre(np.zeros((8, 8, 3), np.uint8), classes)) == ref_prefilter(sim, classes)


def ref_stuff_filter(banks: dict[str, PrototypeBank], stuff: set[str], thr: float = 0.85) -> dict[str, int]:
    """protos.py:221-249 (ctx_mode, filter_bg_thres): stuff classes keep no bg prototypes; a thing's bg prototypes
    are dropped when their cosine to any stuff fg prototype exceeds thr (filter_proto_bg2allfg, protos.py:82-93)."""
    stuff_fg = torch.cat([banks[n].fg for n in banks if n in stuff])
    stuff_fg = stuff_fg / stuff_fg.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    kept = {}
    for name, bank in banks.items():
        if name in stuff:
            kept[name] = 0
        elif bank.bg.shape[0] <= 1:
            kept[name] = bank.bg.shape[0]  # the code's early return: a single bg prototype is never filtered
        else:
            p = bank.bg / bank.bg.norm(dim=-1, keepdim=True).clamp_min(1e-6)
            kept[name] = int(((p @ stuff_fg.T) <= thr).all(-1).sum())
    return kept


@pytest.mark.parametrize("seed", range(12))
def test_stuff_filter_matches_the_code(seed):
    """Difference on purpose: a thing with ONE bg prototype is filtered too here (the code returns early)."""
    rng = np.random.default_rng(seed)
    base = torch.from_numpy(rng.standard_normal((3, 5)).astype(np.float32))  # near-duplicates make sims > 0.85

    def protos(n: int) -> torch.Tensor:
        return base[rng.integers(0, 3, n)] + 0.3 * torch.from_numpy(rng.standard_normal((n, 5)).astype(np.float32))

    names = [f"c{i}" for i in range(5)]
    stuff = {"c0", "c1"}
    banks = {n: _bank(n, protos(int(rng.integers(1, 4))), protos(int(rng.integers(2, 9)))) for n in names}
    keep = background_keep_masks(banks, {n: n in stuff for n in names}, SegmentConfig())
    assert {n: int(k.sum()) for n, k in keep.items()} == ref_stuff_filter(banks, stuff)
    single = {**banks, "c4": _bank("c4", protos(1), banks["c0"].fg[:1] * 2)}  # one bg = a stuff fg direction
    keep = background_keep_masks(single, {n: n in stuff for n in names}, SegmentConfig())
    assert int(keep["c4"].sum()) == 0 and ref_stuff_filter(single, stuff)["c4"] == 1
