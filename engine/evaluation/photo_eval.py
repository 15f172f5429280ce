"""Score a few-shot profile and the simple baseline on the real-photo set (engine.evaluation.photo_set).

Both read the same support crops of each target (the set's protocol); the profile gets them as user support folders
(with the hand-drawn masks, or bare so its proposer makes the masks), the baseline as arrays with their masks.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from engine.class_specs import class_specs
from engine.evaluation.photo_baseline import baseline_labels
from engine.evaluation.photo_set import (
    PhotoSet,
    Scores,
    View,
    class_crop,
    global_labels,
    support_views,
    write_support_folders,
)

if TYPE_CHECKING:
    from engine.pipeline import OVDiff

N_SUPPORT = 2  # support crops per class (at most; one where the protocol finds one)


def target_classes(ps: PhotoSet, target: View, root: Path, masks: bool, n: int = N_SUPPORT) -> list:
    """``ClassSpec``s of ``target``'s vocabulary with user support folders written under ``root``."""
    folders = write_support_folders(ps, target, root, n, masks=masks)
    return class_specs([{"name": c, "user_support_dir": str(folders[c])} for c in target.classes])


def profile_scores(ovd: OVDiff, ps: PhotoSet, root: Path | str, masks: bool = True, n: int = N_SUPPORT,
                   on_target: Callable[[View, object], None] | None = None,
                   labels_out: list | None = None) -> Scores:
    """The profile on every target: support folders under ``root``/given or /bare, labels scored (and each target's
    labels in the set's class ids appended to ``labels_out``)."""
    scores = Scores(ps)
    for target in ps.targets:
        classes = target_classes(ps, target, Path(root) / ("given" if masks else "bare"), masks, n)
        seg = ovd.segment(target.image, classes)
        labels = global_labels(ps, target, seg.labels)
        scores.add(target.labels, labels)
        if labels_out is not None:
            labels_out.append(labels)
        if on_target is not None:
            on_target(target, seg)
    return scores


def _memoised(extractor: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    cache: dict[tuple, torch.Tensor] = {}

    def run(x: torch.Tensor) -> torch.Tensor:
        key = (tuple(x.shape), hashlib.sha1(x.numpy().tobytes()).hexdigest())
        if key not in cache:
            cache[key] = extractor(x)
        return cache[key]

    return run


def baseline_scores(extractor: Callable[[torch.Tensor], torch.Tensor], ps: PhotoSet, short_side: int = 448,
                    n: int = N_SUPPORT) -> Scores:
    """The simple baseline (engine.evaluation.photo_baseline) on every target, hand-drawn support masks.

    A crop supports several targets: its features are computed once (keyed by the input's bytes)."""
    scores = Scores(ps)
    extractor = _memoised(extractor)
    for target in ps.targets:
        crops = {c: [class_crop(ps, v, c) for v in support_views(ps, target, c, n)] for c in target.classes}
        local = baseline_labels(extractor, target.image, list(target.classes), crops, short_side)
        scores.add(target.labels, global_labels(ps, target, local))
    return scores
