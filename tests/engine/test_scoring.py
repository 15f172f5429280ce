"""score_directories: stem matching, accumulated metrics and the errors a user can hit."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import BadInputError
from engine.images import save_label_png
from engine.evaluation.metrics import ConfusionMatrix
from engine.evaluation.scoring import score_directories


@pytest.fixture()
def dirs(tmp_path):
    rng = np.random.default_rng(3)
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gts, preds = {}, {}
    for k in range(3):
        g = rng.integers(0, 3, (5, 7))
        g[0, 0] = 255
        p = np.where(rng.random(g.shape) < 0.7, np.where(g == 255, 0, g), rng.integers(0, 3, g.shape))
        gts[f"img{k}"], preds[f"img{k}"] = g, p
        save_label_png(g, gt_dir / f"img{k}.png")
        save_label_png(p, pred_dir / f"img{k}.png")
    return gt_dir, pred_dir, gts, preds


def test_scores_match_confusion_matrix(dirs):
    gt_dir, pred_dir, gts, preds = dirs
    save_label_png(np.zeros((2, 2)), pred_dir / "extra.png")
    out = score_directories(pred_dir, gt_dir, num_classes=3, class_names=["a", "b", "c"])
    cm = ConfusionMatrix(3)
    for k in gts:
        cm.update(preds[k], gts[k])
    assert out["miou"] == pytest.approx(cm.miou())
    assert out["pixel_accuracy"] == pytest.approx(cm.pixel_accuracy())
    np.testing.assert_allclose(out["per_class_iou"], cm.iou())
    assert out["confusion"]["matrix"] == cm.matrix.tolist()
    assert out["num_images"] == 3 and out["unmatched_predictions"] == ["extra"]
    assert set(out["per_image"]) == {"img0", "img1", "img2"}
    assert out["class_names"] == ["a", "b", "c"]


def test_perfect_predictions(dirs):
    gt_dir, _, _, _ = dirs
    out = score_directories(gt_dir, gt_dir, num_classes=3)
    assert out["miou"] == 1.0 and out["pixel_accuracy"] == 1.0


def test_missing_prediction_named(dirs):
    gt_dir, pred_dir, _, _ = dirs
    (pred_dir / "img1.png").unlink()
    with pytest.raises(BadInputError, match=r"pred/img1.png.*no prediction for ground truth img1.png"):
        score_directories(pred_dir, gt_dir, num_classes=3)


def test_size_mismatch_and_range(dirs):
    gt_dir, pred_dir, _, _ = dirs
    save_label_png(np.zeros((4, 7)), pred_dir / "img2.png")
    with pytest.raises(BadInputError, match="img2.png"):
        score_directories(pred_dir, gt_dir, num_classes=3)
    save_label_png(np.full((5, 7), 3), pred_dir / "img2.png")
    with pytest.raises(BadInputError, match=r"img2.png.*\[3\]"):
        score_directories(pred_dir, gt_dir, num_classes=3)
    save_label_png(np.full((5, 7), 2), pred_dir / "img2.png")
    with pytest.raises(BadInputError, match=r"gt/img\d.png.*outside \[0, 2\)"):
        score_directories(pred_dir, gt_dir, num_classes=2)


def test_missing_folders(tmp_path):
    (tmp_path / "gt").mkdir()
    with pytest.raises(BadInputError, match="prediction folder not found"):
        score_directories(tmp_path / "p", tmp_path / "gt", 3)
    (tmp_path / "p").mkdir()
    with pytest.raises(BadInputError, match="no ground-truth PNGs"):
        score_directories(tmp_path / "p", tmp_path / "gt", 3)
