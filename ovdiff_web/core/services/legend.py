"""What a run's coloured label maps mean: the dataset's classes, then every vocabulary class the dataset has no
label for (the confusion matrix's extra column), each with its colour in the engine's one class palette.

A stored run prediction uses these indices: ``0..n-1`` dataset labels, ``n..n+m-1`` the vocabulary classes without
a dataset label (in snapshot order). Metrics fold every index >= n into the extra column ``n``.
"""
from __future__ import annotations

from typing import Any, Sequence

from engine.palette import palette_hex

EXTRA_COLUMN_LABEL = "no dataset label"


def extra_class_names(snapshot: Sequence[dict[str, Any]], label_map: dict[str, int]) -> list[str]:
    """Vocabulary classes that match no dataset class, in vocabulary order."""
    return [e["name"] for e in snapshot or [] if e.get("name") not in label_map]


def prediction_label_map(run: Any) -> dict[str, int]:
    """Engine class name -> index of a stored prediction: dataset label, or n + k for the k-th extra class."""
    n = len(run.class_names or [])
    extras = extra_class_names(run.vocabulary_snapshot, run.label_map or {})
    return {**(run.label_map or {}), **{name: n + k for k, name in enumerate(extras)}}


def run_legend(run: Any) -> list[dict[str, Any]]:
    """[{index, name, colour, in_dataset}] for every index a prediction or ground truth of ``run`` can hold."""
    names = list(run.class_names or [])
    extras = extra_class_names(run.vocabulary_snapshot, run.label_map or {})
    colours = palette_hex(len(names) + len(extras))
    rows = [{"index": i, "name": name, "colour": colours[i], "in_dataset": True} for i, name in enumerate(names)]
    rows += [{"index": len(names) + k, "name": name, "colour": colours[len(names) + k], "in_dataset": False}
             for k, name in enumerate(extras)]
    return rows


def missing_from_dataset(dataset: Any, vocabulary: Any) -> list[str]:
    """Names of ``vocabulary``'s classes the dataset has no label for (their pixels always count as wrong)."""
    from ovdiff_web.core.services.labels import build_label_map

    if vocabulary is None:
        return []
    snapshot = [{"name": c.name, "prompt": c.prompt} for c in vocabulary.classes.all()]
    label_map = build_label_map(dataset.class_names, dataset.prompts, dataset.has_background, snapshot)
    return extra_class_names(snapshot, label_map)
