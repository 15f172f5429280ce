"""Dataset readers: ``open_dataset(kind, root, split, protocol)`` -> :class:`SegDataset`."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.evaluation.datasets.ade20k import open_ade20k
from engine.evaluation.datasets.base import Sample, SegDataset, reduce_zero_label
from engine.evaluation.datasets.classes import (
    ADE150_CLASSES,
    COCO_OBJECT_CLASSES,
    CONTEXT59_CLASSES,
    PROMPT_RENAMES,
    VOC_CLASSES,
    prompt_for,
    prompts_for,
)
from engine.evaluation.datasets.coco_object import open_coco_object
from engine.evaluation.datasets.context import open_context
from engine.evaluation.datasets.prompts import PROMPT_TABLES, dataset_prompts
from engine.evaluation.datasets.folder import open_folder
from engine.evaluation.datasets.voc import open_voc
from engine.errors import BadInputError

READERS: dict[str, Callable[..., SegDataset]] = {
    "voc": open_voc,
    "context": open_context,
    "coco_object": open_coco_object,
    "ade20k": open_ade20k,
    "folder": open_folder,
}
# kind -> protocols, default first ("folder" takes its protocol from classes.txt).
PROTOCOLS: dict[str, tuple[str, ...]] = {
    "voc": ("voc21", "voc20"),
    "context": ("context60", "context59"),
    "coco_object": ("coco_object",),
    "ade20k": ("ade150",),
    "folder": (),
}


def open_dataset(kind: str, root: str | Path, split: str = "val", protocol: str | None = None,
                 **kwargs) -> SegDataset:
    """Open a dataset of ``kind`` under ``root``; extra kwargs (e.g. max_pixels) go to SegDataset."""
    if kind not in READERS:
        raise BadInputError(f"unknown dataset kind; choose one of {', '.join(READERS)}", item=kind)
    return READERS[kind](root, split=split, protocol=protocol, **kwargs)


__all__ = [
    "ADE150_CLASSES", "COCO_OBJECT_CLASSES", "CONTEXT59_CLASSES", "PROMPT_RENAMES", "PROMPT_TABLES", "PROTOCOLS",
    "READERS", "dataset_prompts",
    "Sample", "SegDataset", "VOC_CLASSES", "open_dataset", "prompt_for", "prompts_for", "reduce_zero_label",
]
