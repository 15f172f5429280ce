"""Few-shot segmentation with real DINOv2-S features (saliency fine-tune of DINOv2-S, not Meta's checkpoint).

Scenes are composed from real photographs of materials bundled with scikit-image (brick, grass, gravel), all in
the same grey, on smooth backgrounds: colour says nothing about the class, texture does. Support images are other
crops of the materials at another zoom (engine.evaluation.fewshot_data), as a user would bring.
"""
from __future__ import annotations

import numpy as np
import pytest

from engine.cli import main
from engine.evaluation.datasets import open_dataset
from engine.evaluation.demo_data import write_demo_dataset
from engine.evaluation.evaluate import dataset_classes, evaluate_dataset
from engine.evaluation.fewshot_data import GREY_TINTS, make_support_image, with_support_folders, write_support_folders
from tests.engine.real.photos import mask_iou
from engine.pipeline import build_ovdiff
from tests.engine.real.colour_baseline import colour_baseline_miou

N_SCENES, SCENE_SIZE, N_SUPPORT = 4, 160, 3
MARGIN = 0.25  # real features must beat the mean-colour baseline's mIoU by this much (measured: docs/REAL_WEIGHTS.md)
MASKCUT_FLOOR = 0.7  # IoU of MaskCut's fg with the pasted material in each support image


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("fewshot")
    data = write_demo_dataset(root / "data", n_images=N_SCENES, size=SCENE_SIZE, tints=GREY_TINTS)
    given = write_support_folders(root / "given", N_SUPPORT, with_masks=True, tints=GREY_TINTS)
    bare = write_support_folders(root / "bare", N_SUPPORT, with_masks=False, tints=GREY_TINTS)
    return root, open_dataset("folder", data), given, bare


def _ovdiff(root, dinov2_dir):  # noqa: ANN001, ANN202
    return build_ovdiff("dinov2-small", root / "store", sources={"dino": str(dinov2_dir)})


def test_real_features_beat_the_mean_colour_baseline(scenes, dinov2_dir):
    root, ds, given, _ = scenes
    ovd = _ovdiff(root, dinov2_dir)
    metrics = evaluate_dataset(ovd, ds, None, classes=with_support_folders(dataset_classes(ds), given))
    baseline = colour_baseline_miou(ds, given)
    assert metrics["miou"] >= baseline + MARGIN, (metrics["miou"], baseline)
    assert metrics["random_weights"] is False and metrics["profile"] == "dinov2-small"


def test_paper_structure_pipeline_end_to_end(scenes, dinov2_dir):
    """support folder (no masks) -> MaskCut masks -> banks -> sliding windows -> matching."""
    root, ds, _, bare = scenes
    ovd = _ovdiff(root, dinov2_dir)
    classes = with_support_folders(dataset_classes(ds), bare)
    assert ovd.config.segment.sliding_window and ovd.config.segment.window_sizes == (448, 336)
    rng_masks = _pasted_masks()
    for cls in classes:
        support = ovd.support_set(cls)
        assert support.source == "user" and len(support.images) == N_SUPPORT
        for im, truth in zip(support.images, rng_masks[cls.name]):
            assert mask_iou(im.fg_mask, truth) >= MASKCUT_FLOOR, cls.name
        banks = ovd.banks(cls)
        assert set(banks) == {"dino"} and banks["dino"].fg.shape[1] == 384
    metrics = evaluate_dataset(ovd, ds, root / "eval", classes=classes)
    assert metrics["miou"] >= 0.5, metrics["per_class_iou"] if "per_class_iou" in metrics else metrics
    assert len(list((root / "eval" / "pred").glob("*.png"))) == N_SCENES


def _pasted_masks() -> dict[str, list[np.ndarray]]:
    """The exact material masks of the bare support images (same seed and order as write_support_folders)."""
    from engine.evaluation.demo_data import _textures
    from engine.evaluation.fewshot_data import SUPPORT_SEED_OFFSET

    rng = np.random.default_rng(SUPPORT_SEED_OFFSET)
    textures = _textures()
    out: dict[str, list[np.ndarray]] = {}
    for name in ("brick", "grass", "gravel"):
        out[name] = [make_support_image(name, 224, rng, textures, GREY_TINTS)[1] for _ in range(N_SUPPORT)]
    return out


def test_cli_segments_with_a_support_folder(scenes, dinov2_dir, tmp_path, monkeypatch, capsys):
    root, ds, given, _ = scenes
    monkeypatch.setenv("OVDIFF_DINO", str(dinov2_dir))
    image = ds.samples[0].image_path
    code = main(["segment", str(image), "--classes", "brick, grass, gravel", "--stuff", "grass, gravel",
                 "--support-root", str(given["brick"].parent), "--profile", "dinov2-small",
                 "--store", str(root / "store"), "--out", str(tmp_path / "seg"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "seg" / "labels.png").is_file()
    code = main(["segment", str(image), "--classes", "brick", "--profile", "dinov2-small",
                 "--store", str(root / "store"), "--out", str(tmp_path / "seg2"), "--quiet"])
    assert code == 2 and "no image generator" in capsys.readouterr().err
