"""COCO-Object (GroupViT/TCL layout): coco_stuff164k/{images/val2017/*.jpg,
annotations/val2017/<stem>_instanceTrainIds.png}.

The label PNGs are written by GroupViT's ``convert_dataset/convert_coco_object.py`` (reused by TCL):
it reads the COCO-Stuff 164k PNGs and maps the 80 thing classes to 1..80, every stuff class to
0 (background) and keeps 255 (unlabelled) as ignore. The raw COCO-Stuff PNGs (<stem>.png,
<stem>_labelTrainIds.png) in the same folder are NOT COCO-Object labels and are never read.
There is no split list: the split is every image in images/<split>2017.
"""
from __future__ import annotations

from pathlib import Path

from engine.evaluation.datasets.base import Sample, SegDataset, check_protocol, find_root
from engine.evaluation.datasets.classes import COCO_OBJECT_CLASSES
from engine.errors import BadInputError

PROTOCOLS = ("coco_object",)
LABEL_SUFFIX = "_instanceTrainIds.png"


def open_coco_object(root: str | Path, split: str = "val", protocol: str | None = None, **kwargs) -> SegDataset:
    protocol = check_protocol("coco_object", protocol, PROTOCOLS)
    base = find_root(Path(root), ("", "coco_stuff164k"), "images", "COCO-Object")
    sub = split if split.endswith("2017") else f"{split}2017"
    img_dir, ann_dir = base / "images" / sub, base / "annotations" / sub
    if not img_dir.is_dir():
        raise BadInputError(f"image folder for split {split!r} not found (expected this folder)", item=str(img_dir))
    if not ann_dir.is_dir():
        raise BadInputError(
            f"annotation folder for split {split!r} not found; create it with convert_coco_object.py",
            item=str(ann_dir))
    images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    samples = [Sample(p.stem, p, ann_dir / f"{p.stem}{LABEL_SUFFIX}") for p in images]
    names = ("background",) + COCO_OBJECT_CLASSES
    return SegDataset(protocol, names, samples, has_background=True, reduce_zero_label=False,
                      root=base, split=split, protocol=protocol,
                      kind="coco_object", **kwargs)
