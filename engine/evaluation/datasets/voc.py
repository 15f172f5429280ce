"""PASCAL VOC 2012 (mmseg layout): VOCdevkit/VOC2012/{JPEGImages, SegmentationClass, ImageSets/Segmentation}.

Protocols: "voc21" (background + 20 objects, boundary 255 ignored) and "voc20" (background ignored,
objects shifted to 0..19, as TCL's VOC-20 with reduce_zero_label).
"""
from __future__ import annotations

from pathlib import Path

from engine.evaluation.datasets.base import Sample, SegDataset, check_protocol, find_root, read_split_file
from engine.evaluation.datasets.classes import VOC_CLASSES

PROTOCOLS = ("voc21", "voc20")


def open_voc(root: str | Path, split: str = "val", protocol: str | None = None, **kwargs) -> SegDataset:
    protocol = check_protocol("voc", protocol, PROTOCOLS)
    base = find_root(Path(root), ("", "VOCdevkit/VOC2012", "VOC2012"), "JPEGImages", "PASCAL VOC 2012")
    ids = read_split_file(base / "ImageSets" / "Segmentation" / f"{split}.txt")
    samples = [Sample(i, base / "JPEGImages" / f"{i}.jpg", base / "SegmentationClass" / f"{i}.png") for i in ids]
    with_bg = protocol == "voc21"
    names = (("background",) if with_bg else ()) + VOC_CLASSES
    return SegDataset(protocol, names, samples, has_background=with_bg, reduce_zero_label=not with_bg,
                      root=base, split=split, protocol=protocol,
                      kind="voc", **kwargs)
