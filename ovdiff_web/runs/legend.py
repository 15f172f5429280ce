"""What a run's coloured label maps mean: the dataset's classes, then every vocabulary class the dataset has no
label for (the confusion matrix's extra column), each with its colour in the engine's one class palette.

The worker's label map sends the k-th vocabulary class without a dataset label to ``n + k``: the engine's prediction
file folds them into one "no dataset label" value and metrics into the extra column ``n``, while ``labels/<id>.png``
(``write_shown_labels``) keeps them apart for the dashboard's overlays and legends.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from engine.evaluation.labelmap import NO_DATASET_LABEL as EXTRA_COLUMN_LABEL  # noqa: F401  (the views name it)
from engine.palette import class_palette, palette_hex
from engine.storage.atomic import atomic_write

if TYPE_CHECKING:
    import numpy as np


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


def missing_from_dataset(run: Any) -> list[str]:
    """Names of the run's classes its dataset has no label for (their pixels always count as wrong): read from the
    run's own snapshot and label map, made with its profile's prompts, as its legend is."""
    return extra_class_names(run.vocabulary_snapshot, run.label_map or {})


SHOWN_DIR = "labels"  # next to the engine's pred/ and overlay/ folders of a run


def write_shown_labels(out_dir: Path, image_id: str, labels: np.ndarray) -> Path:
    """``out_dir/labels/<id>.png``: the prediction in ``run_legend`` indices (the engine's ``pred/`` file folds
    every class without a dataset label into one value; the dashboard shows which one it was)."""
    from engine.evaluation.predictions import prediction_name
    from engine.images import save_label_png

    path = Path(out_dir) / SHOWN_DIR / prediction_name(image_id)
    return atomic_write(path, lambda tmp: save_label_png(labels, tmp, class_palette(256, ignore_index=None)))


def shown_labels_path(prediction: str) -> str:
    """MEDIA_ROOT-relative path of the shown labels next to a stored prediction ("runs/1/pred/x.png")."""
    head, _, name = prediction.rpartition("/pred/")
    return f"{head}/{SHOWN_DIR}/{name}" if head else ""
