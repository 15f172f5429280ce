"""ADE20K SceneParsing (mmseg layout): ADEChallengeData2016/{images,annotations}/{training,validation}.

Label PNGs hold 0 = "other" and 1..150 the classes; protocol "ade150" ignores 0 and shifts to 0..149
(mmseg's reduce_zero_label). There is no split list: the split is every .jpg in the image folder.
"""
from __future__ import annotations

from pathlib import Path

from engine.evaluation.datasets.base import Sample, SegDataset, check_protocol, find_root
from engine.evaluation.datasets.classes import ADE150_CLASSES
from engine.errors import BadInputError

PROTOCOLS = ("ade150",)
SPLIT_DIRS = {"val": "validation", "validation": "validation", "train": "training", "training": "training"}


def open_ade20k(root: str | Path, split: str = "val", protocol: str | None = None, **kwargs) -> SegDataset:
    protocol = check_protocol("ade20k", protocol, PROTOCOLS)
    if split not in SPLIT_DIRS:
        raise BadInputError(f"unknown ADE20K split; choose one of {', '.join(SPLIT_DIRS)}", item=split)
    base = find_root(Path(root), ("", "ADEChallengeData2016", "ade/ADEChallengeData2016"), "images", "ADE20K")
    img_dir = base / "images" / SPLIT_DIRS[split]
    ann_dir = base / "annotations" / SPLIT_DIRS[split]
    if not img_dir.is_dir():
        raise BadInputError(f"image folder for split {split!r} not found (expected this folder)", item=str(img_dir))
    images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    samples = [Sample(p.stem, p, ann_dir / f"{p.stem}.png") for p in images]
    return SegDataset(protocol, ADE150_CLASSES, samples, has_background=False, reduce_zero_label=True,
                      root=base, split=split, protocol=protocol,
                      kind="ade20k", **kwargs)
