"""Mapping engine class names to dataset label indices, and turning engine predictions into dataset labels."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def build_label_map(dataset_classes: Sequence[str], dataset_prompts: Sequence[str], has_background: bool,
                    vocabulary: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Engine class name -> dataset index, matching a vocabulary class by name or prompt (case-insensitive)
    to a dataset class name or prompt. With a background protocol engine "background" -> dataset 0."""
    index: dict[str, int] = {}
    for i, (name, prompt) in enumerate(zip(dataset_classes, dataset_prompts)):
        if has_background and i == 0:
            continue
        index.setdefault(name.lower(), i)
        index.setdefault(str(prompt).lower(), i)
    mapping: dict[str, int] = {}
    for cls in vocabulary:
        for candidate in (cls["name"], cls.get("prompt") or ""):
            if candidate and candidate.lower() in index:
                mapping[cls["name"]] = index[candidate.lower()]
                break
    if has_background:
        mapping["background"] = 0
    return mapping


def to_dataset_labels(labels: np.ndarray, engine_classes: Sequence[str], label_map: dict[str, int],
                      unmatched: int) -> np.ndarray:
    """Re-index an engine label map: classes absent from ``label_map`` become ``unmatched`` (always wrong)."""
    lut = np.array([label_map.get(name, unmatched) for name in engine_classes], dtype=np.int64)
    return lut[np.asarray(labels, dtype=np.int64)]


def snapshot_from_dataset(class_names: Sequence[str], prompts: Sequence[str], has_background: bool) -> list[dict]:
    """A vocabulary snapshot straight from a dataset's classes (when a run names no vocabulary)."""
    from ovdiff_web.core.services.vocab import label_class

    out = []
    for i, (name, prompt) in enumerate(zip(class_names, prompts)):
        if has_background and i == 0:
            continue
        is_stuff, _ = label_class(prompt)
        out.append({"name": name, "prompt": prompt if prompt != name else "", "is_stuff": is_stuff,
                    "label_source": "labeller", "user_support_dir": "", "class_id": None})
    return out


def spec_from_snapshot(entry: dict[str, Any]) -> Any:
    """The engine ``ClassSpec`` for one snapshot entry."""
    from django.conf import settings

    from engine.types import ClassSpec

    support = str(settings.MEDIA_ROOT / entry["user_support_dir"]) if entry.get("user_support_dir") else None
    return ClassSpec(name=entry["name"], prompt=entry.get("prompt") or None, is_stuff=bool(entry.get("is_stuff")),
                     user_support_dir=support)
