"""ConfusionMatrix against hand-computed IoUs (ignored pixels, absent classes) and a brute-force reference."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.errors import BadInputError
from engine.evaluation.metrics import ConfusionMatrix, metrics_dict, per_image_iou

# gt has an ignored pixel (255) where the prediction says 0: it must not count anywhere.
GT = np.array([[0, 0, 1, 1], [0, 255, 1, 2]])
PRED = np.array([[0, 1, 1, 1], [0, 0, 2, 2]])


def test_hand_computed_ious():
    cm = ConfusionMatrix(4).update(PRED, GT)
    # class 0: TP 2, gt 3, pred 2 -> 2/3 ; class 1: TP 2, gt 3, pred 3 -> 2/4 ; class 2: TP 1, gt 1, pred 2 -> 1/2
    # class 3 never appears: NaN and left out of the mean (mmseg nanmean).
    iou = cm.iou()
    np.testing.assert_allclose(iou[:3], [2 / 3, 0.5, 0.5])
    assert math.isnan(iou[3])
    assert cm.miou() == pytest.approx((2 / 3 + 0.5 + 0.5) / 3)
    assert cm.pixel_accuracy() == pytest.approx(5 / 7)
    acc = cm.class_accuracy()
    np.testing.assert_allclose(acc[:3], [2 / 3, 2 / 3, 1.0])
    assert math.isnan(acc[3])
    assert cm.matrix.sum() == 7


def test_predicted_but_absent_class_counts_as_zero():
    gt = np.zeros((2, 2), dtype=np.int64)
    pred = np.array([[0, 0], [0, 3]])
    cm = ConfusionMatrix(4).update(pred, gt)
    iou = cm.iou()
    assert iou[0] == pytest.approx(0.75) and iou[3] == 0.0
    assert math.isnan(iou[1]) and math.isnan(iou[2])
    assert cm.miou() == pytest.approx(0.375)


def test_custom_ignore_index():
    gt = np.array([[0, 1, 2]])
    pred = np.array([[0, 0, 1]])
    cm = ConfusionMatrix(2, ignore_index=2).update(pred, gt)
    np.testing.assert_allclose(cm.iou(), [0.5, 0.0])


def test_matches_brute_force_and_merge():
    rng = np.random.default_rng(0)
    n = 5
    gts = [rng.integers(0, n, (9, 11)) for _ in range(3)]
    for g in gts:
        g[rng.random(g.shape) < 0.1] = 255
    preds = [rng.integers(0, n, (9, 11)) for _ in range(3)]
    parts = [ConfusionMatrix(n).update(p, g) for p, g in zip(preds, gts)]
    merged = parts[0]
    for p in parts[1:]:
        merged.merge(p)
    whole = ConfusionMatrix(n).update(np.concatenate(preds), np.concatenate(gts))
    np.testing.assert_array_equal(merged.matrix, whole.matrix)
    g, p = np.concatenate(gts).ravel(), np.concatenate(preds).ravel()
    keep = g != 255
    g, p = g[keep], p[keep]
    for c in range(n):
        inter = np.sum((g == c) & (p == c))
        union = np.sum((g == c) | (p == c))
        assert whole.iou()[c] == pytest.approx(inter / union)


def test_merge_mismatch_refused():
    with pytest.raises(BadInputError):
        ConfusionMatrix(3).merge(ConfusionMatrix(4))


def test_out_of_range_labels_refused():
    cm = ConfusionMatrix(3)
    with pytest.raises(BadInputError, match=r"img7.*ground-truth labels \[3\]"):
        cm.update(np.zeros((1, 2)), np.array([[0, 3]]), item="img7")
    with pytest.raises(BadInputError, match=r"predicted labels \[-1\]"):
        cm.update(np.array([[0, -1]]), np.zeros((1, 2)))
    with pytest.raises(BadInputError, match="shape"):
        cm.update(np.zeros((2, 2)), np.zeros((2, 3)))
    assert cm.matrix.sum() == 0  # failed updates leave the matrix unchanged


def test_round_trip_dict_json():
    cm = ConfusionMatrix(4).update(PRED, GT)
    data = json.loads(json.dumps(cm.to_dict()))
    back = ConfusionMatrix.from_dict(data)
    np.testing.assert_array_equal(back.matrix, cm.matrix)
    assert back.ignore_index == 255 and back.num_classes == 4
    with pytest.raises(BadInputError):
        ConfusionMatrix.from_dict({"num_classes": 3, "matrix": [[1]]})
    summary = json.loads(json.dumps(metrics_dict(cm, ["a", "b", "c", "d"]), allow_nan=False))
    assert summary["per_class_iou"][3] is None and summary["miou"] == pytest.approx(cm.miou())


def test_per_image_iou():
    assert per_image_iou(PRED, GT, 4) == pytest.approx((2 / 3 + 0.5 + 0.5) / 3)
    assert per_image_iou(GT, GT, 4) == 1.0
    assert math.isnan(per_image_iou(np.zeros((1, 1)), np.full((1, 1), 255), 4))


def test_empty_matrix_is_nan():
    cm = ConfusionMatrix(3)
    assert math.isnan(cm.miou()) and math.isnan(cm.pixel_accuracy())
