"""PASCAL Context (mmseg layout from tools/dataset_converters/pascal_context.py):
VOCdevkit/VOC2010/{JPEGImages, SegmentationClassContext, ImageSets/SegmentationContext/{train,val}.txt}.

Label PNGs hold 0 = background and 1..59 the 59 classes. Protocols: "context60" (with background) and
"context59" (background ignored, classes shifted to 0..58: mmseg's reduce_zero_label).
"""
from __future__ import annotations

from pathlib import Path

from engine.evaluation.datasets.base import Sample, SegDataset, check_protocol, find_root, read_split_file
from engine.evaluation.datasets.classes import CONTEXT59_CLASSES

PROTOCOLS = ("context60", "context59")


def open_context(root: str | Path, split: str = "val", protocol: str | None = None, **kwargs) -> SegDataset:
    protocol = check_protocol("context", protocol, PROTOCOLS)
    base = find_root(Path(root), ("", "VOCdevkit/VOC2010", "VOC2010"), "JPEGImages", "PASCAL Context")
    ids = read_split_file(base / "ImageSets" / "SegmentationContext" / f"{split}.txt")
    samples = [Sample(i, base / "JPEGImages" / f"{i}.jpg", base / "SegmentationClassContext" / f"{i}.png")
               for i in ids]
    with_bg = protocol == "context60"
    names = (("background",) if with_bg else ()) + CONTEXT59_CLASSES
    return SegDataset(protocol, names, samples, has_background=with_bg, reduce_zero_label=not with_bg,
                      root=base, split=split, protocol=protocol,
                      kind="context", **kwargs)
