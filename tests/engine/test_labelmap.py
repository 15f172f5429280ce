"""The label map from a vocabulary to a dataset's ids, and the metrics summary with the extra column."""
from __future__ import annotations

import numpy as np
import pytest

from engine.evaluation.labelmap import dataset_label_map, to_dataset_labels
from engine.evaluation.metrics import ConfusionMatrix, metrics_dict
from engine.types import Segmentation


def test_label_mapping_by_name_or_prompt_with_a_no_dataset_label_column() -> None:
    mapping = dataset_label_map([("airplane", None), ("screen", "television"), ("x", None)],
                                ["background", "aeroplane", "tv monitor"], ["background", "airplane", "television"],
                                True)
    assert mapping == {"airplane": 1, "screen": 2, "background": 0}
    seg = Segmentation(labels=np.array([[0, 1], [2, 3]]), label_names=["background", "airplane", "screen", "x"])
    assert to_dataset_labels(seg, mapping, True, num_classes=3).tolist() == [[0, 1], [2, 3]]


def test_without_background_every_pixel_takes_its_best_class() -> None:
    scores = np.zeros((3, 1, 2), dtype=np.float32)
    scores[0] = 9.0  # background would win, but the protocol has none
    scores[1, 0, 0], scores[2, 0, 1] = 1.0, 1.0
    seg = Segmentation(labels=np.zeros((1, 2), dtype=np.int32), label_names=["background", "a", "b"], scores=scores)
    assert to_dataset_labels(seg, {"a": 0, "b": 1}, False, num_classes=2).tolist() == [[0, 1]]


def test_summary_counts_unmatched_as_wrong_but_not_as_a_class() -> None:
    # 2 dataset classes + 1 "no dataset label" column; rows = ground truth; two shards merged
    cm = ConfusionMatrix(3)
    for _ in range(2):
        shard = ConfusionMatrix(3)
        shard.matrix = np.array([[3, 1, 1], [0, 4, 0], [0, 0, 0]], dtype=np.int64)
        cm.merge(shard)
    out = metrics_dict(cm, ["a", "b"])
    assert out["per_class_iou"] == [pytest.approx(6 / 10), pytest.approx(8 / 10)]
    assert out["miou"] == pytest.approx(0.7) and out["pixel_accuracy"] == pytest.approx(14 / 18)
    assert np.asarray(out["confusion"]["matrix"]).shape == (2, 3)
