"""Each reader on a tiny dataset written in its conversion-script layout, both protocols, and every refusal."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.evaluation.datasets import (
    ADE150_CLASSES,
    COCO_OBJECT_CLASSES,
    CONTEXT59_CLASSES,
    VOC_CLASSES,
    SegDataset,
    open_dataset,
    prompt_for,
)
from engine.errors import BadInputError
from engine.images import save_label_png

H, W = 6, 8


def _write_pair(img_path: Path, label_path: Path, labels: np.ndarray, seed: int = 0) -> None:
    img_path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 256, (*labels.shape, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(img_path, quality=95)
    save_label_png(labels, label_path)


def _raw_labels(top: int) -> np.ndarray:
    """Raw label file content: 0, 1, top class and the ignore value, in known places."""
    lab = np.zeros((H, W), dtype=np.int64)
    lab[:, 2:4] = 1
    lab[:, 4:6] = top
    lab[:, 6:] = 255
    return lab


def _write_voc(root: Path, ids=("2007_000032", "2007_000033")) -> Path:
    base = root / "VOCdevkit" / "VOC2012"
    (base / "ImageSets" / "Segmentation").mkdir(parents=True)
    (base / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(ids) + "\n")
    for k, i in enumerate(ids):
        _write_pair(base / "JPEGImages" / f"{i}.jpg", base / "SegmentationClass" / f"{i}.png", _raw_labels(20), k)
    return root


def _write_context(root: Path, ids=("2008_000002",)) -> Path:
    base = root / "VOCdevkit" / "VOC2010"
    (base / "ImageSets" / "SegmentationContext").mkdir(parents=True)
    (base / "ImageSets" / "SegmentationContext" / "val.txt").write_text("\n".join(ids))
    for i in ids:
        _write_pair(base / "JPEGImages" / f"{i}.jpg", base / "SegmentationClassContext" / f"{i}.png",
                    _raw_labels(59))
    return root


def _write_coco(root: Path) -> Path:
    base = root / "coco_stuff164k"
    for i in ("000000000139", "000000000285"):
        _write_pair(base / "images" / "val2017" / f"{i}.jpg",
                    base / "annotations" / "val2017" / f"{i}_instanceTrainIds.png", _raw_labels(80))
        # The raw COCO-Stuff PNG next to it must not be mistaken for COCO-Object labels.
        save_label_png(np.full((H, W), 170), base / "annotations" / "val2017" / f"{i}.png")
    return root


def _write_ade(root: Path) -> Path:
    base = root / "ADEChallengeData2016"
    for i in ("ADE_val_00000001", "ADE_val_00000002"):
        lab = _raw_labels(150)
        lab[lab == 255] = 0  # ADE files hold 0 = "other" instead of 255
        _write_pair(base / "images" / "validation" / f"{i}.jpg", base / "annotations" / "validation" / f"{i}.png",
                    lab)
    return root


def _check_loaded(ds: SegDataset, expected: np.ndarray) -> None:
    for s in ds:
        image, labels = ds.load(s)
        assert image.dtype == np.uint8 and image.shape == (H, W, 3)
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(labels, expected)


def test_voc21_and_voc20(tmp_path):
    root = _write_voc(tmp_path)
    ds = open_dataset("voc", root)
    assert isinstance(ds, SegDataset) and len(ds) == 2 and ds.has_background
    assert ds.class_names[0] == "background" and ds.class_names[1:] == list(VOC_CLASSES) and ds.num_classes == 21
    assert [s.id for s in ds] == ["2007_000032", "2007_000033"]
    _check_loaded(ds, _raw_labels(20))
    assert {"airplane", "table", "monitor", "potted plant"} <= set(ds.prompts)
    assert "aeroplane" in ds.class_names and "aeroplane" not in ds.prompts

    ds20 = open_dataset("voc", root / "VOCdevkit" / "VOC2012", protocol="voc20")  # dataset dir itself works too
    assert not ds20.has_background and ds20.num_classes == 20 and ds20.class_names[0] == "aeroplane"
    expected = np.full((H, W), 255)
    expected[:, 2:4] = 0
    expected[:, 4:6] = 19
    _check_loaded(ds20, expected)


def test_context60_and_context59(tmp_path):
    root = _write_context(tmp_path)
    ds = open_dataset("context", root)
    assert ds.num_classes == 60 and ds.class_names[0] == "background" and ds.protocol == "context60"
    _check_loaded(ds, _raw_labels(59))
    ds59 = open_dataset("context", root, protocol="context59")
    assert ds59.num_classes == 59 and ds59.class_names == list(CONTEXT59_CLASSES)
    assert ds59.class_names[58] == "wood"
    expected = np.full((H, W), 255)
    expected[:, 2:4] = 0
    expected[:, 4:6] = 58
    _check_loaded(ds59, expected)


def test_coco_object(tmp_path):
    ds = open_dataset("coco_object", _write_coco(tmp_path))
    assert ds.num_classes == 81 and ds.class_names[1:] == list(COCO_OBJECT_CLASSES) and ds.has_background
    assert all(s.label_path.name.endswith("_instanceTrainIds.png") for s in ds)
    _check_loaded(ds, _raw_labels(80))
    assert "television" in ds.prompts and "hair dryer" in ds.prompts


def test_ade150(tmp_path):
    ds = open_dataset("ade20k", _write_ade(tmp_path))
    assert ds.num_classes == 150 and not ds.has_background and ds.class_names == list(ADE150_CLASSES)
    expected = np.full((H, W), 255)
    expected[:, 2:4] = 0
    expected[:, 4:6] = 149
    _check_loaded(ds, expected)
    assert ds.prompts[8] == "window"  # windowpane


def test_ade_label_out_of_range(tmp_path):
    root = _write_ade(tmp_path)
    bad = root / "ADEChallengeData2016" / "annotations" / "validation" / "ADE_val_00000002.png"
    save_label_png(np.full((H, W), 151), bad)
    ds = open_dataset("ade20k", root)
    ds.load(ds[0])
    with pytest.raises(BadInputError, match=r"ADE_val_00000002.png.*\[151\]"):
        ds.load(ds[1])


def _write_folder(root: Path, classes: str, n: int = 3, top: int = 2) -> Path:
    for k in range(n):
        _write_pair(root / "images" / f"im{k}.png", root / "masks" / f"im{k}.png", _raw_labels(top), k)
    (root / "classes.txt").write_text(classes)
    return root


def test_folder_with_background(tmp_path):
    root = _write_folder(tmp_path / "mine", "background\ncat\nperson, individual, someone\n")
    ds = open_dataset("folder", root)
    assert ds.has_background and ds.class_names == ["background", "cat", "person, individual, someone"]
    assert ds.prompts == ["background", "cat", "person"]
    assert len(ds) == 3 and ds.split == "all"
    _check_loaded(ds, _raw_labels(2))


def test_folder_without_background_and_split(tmp_path):
    root = _write_folder(tmp_path / "mine", "# my classes\ncat\ndog\nbird\n")
    (root / "splits").mkdir()
    (root / "splits" / "val.txt").write_text("im2\nim0\n")
    ds = open_dataset("folder", root)
    assert not ds.has_background and ds.class_names == ["cat", "dog", "bird"]
    assert [s.id for s in ds] == ["im2", "im0"]
    with pytest.raises(BadInputError, match=r"splits/train.txt"):
        open_dataset("folder", root, split="train")


def test_folder_errors(tmp_path):
    root = _write_folder(tmp_path / "mine", "background\ncat\n", top=1)
    (root / "masks" / "im1.png").unlink()
    with pytest.raises(BadInputError, match=r"masks/im1.png"):
        open_dataset("folder", root)
    save_label_png(np.zeros((H + 1, W)), root / "masks" / "im1.png")
    ds = open_dataset("folder", root)
    with pytest.raises(BadInputError, match=r"masks/im1.png.*8x7.*image is 8x6"):
        ds.load(ds[1])
    save_label_png(np.full((H, W), 5), root / "masks" / "im1.png")
    with pytest.raises(BadInputError, match=r"im1.png.*\[5\].*outside \[0, 2\)"):
        ds.load(ds[1])
    (root / "classes.txt").unlink()
    with pytest.raises(BadInputError, match="classes.txt"):
        open_dataset("folder", root)
    (root / "classes.txt").write_text("cat\nCat\n")
    with pytest.raises(BadInputError, match="twice"):
        open_dataset("folder", root)


def test_missing_split_list_names_expected_file(tmp_path):
    root = _write_voc(tmp_path)
    with pytest.raises(BadInputError, match=r"VOC2012/ImageSets/Segmentation/train.txt"):
        open_dataset("voc", root, split="train")
    root = _write_context(tmp_path / "ctx")
    (root / "VOCdevkit/VOC2010/ImageSets/SegmentationContext/val.txt").unlink()
    with pytest.raises(BadInputError, match=r"SegmentationContext/val.txt"):
        open_dataset("context", root)


def test_missing_image_or_mask_for_id(tmp_path):
    root = _write_voc(tmp_path)
    base = root / "VOCdevkit" / "VOC2012"
    (base / "SegmentationClass" / "2007_000033.png").unlink()
    with pytest.raises(BadInputError, match=r"SegmentationClass/2007_000033.png"):
        open_dataset("voc", root)
    (base / "JPEGImages" / "2007_000032.jpg").unlink()
    with pytest.raises(BadInputError, match=r"JPEGImages/2007_000032.jpg"):
        open_dataset("voc", root)


def test_coco_missing_label_and_not_a_dataset(tmp_path):
    root = _write_coco(tmp_path)
    (root / "coco_stuff164k/annotations/val2017/000000000285_instanceTrainIds.png").unlink()
    with pytest.raises(BadInputError, match="000000000285_instanceTrainIds.png"):
        open_dataset("coco_object", root)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="not a PASCAL VOC 2012 dataset"):
        open_dataset("voc", tmp_path / "empty")
    with pytest.raises(BadInputError, match="not a directory"):
        open_dataset("ade20k", tmp_path / "nowhere")


def test_unknown_kind_and_protocol(tmp_path):
    root = _write_voc(tmp_path)
    with pytest.raises(BadInputError, match="cityscapes.*unknown dataset kind"):
        open_dataset("cityscapes", root)
    with pytest.raises(BadInputError, match="voc19.*voc21, voc20"):
        open_dataset("voc", root, protocol="voc19")


def test_voc_boundary_label_out_of_range(tmp_path):
    root = _write_voc(tmp_path)
    save_label_png(np.full((H, W), 21), root / "VOCdevkit/VOC2012/SegmentationClass/2007_000032.png")
    ds = open_dataset("voc", root)
    with pytest.raises(BadInputError, match=r"2007_000032.png.*\[21\]"):
        ds.load(ds[0])


def test_max_pixels_passed_through(tmp_path):
    ds = open_dataset("voc", _write_voc(tmp_path), max_pixels=H * W - 1)
    with pytest.raises(BadInputError, match=r"2007_000032.jpg.*pixels"):
        ds.load(ds[0])


def test_prompt_cleanups():
    assert prompt_for("aeroplane") == "airplane"
    assert prompt_for("diningtable") == "table"
    assert prompt_for("tvmonitor") == "monitor"
    assert prompt_for("pottedplant") == "potted plant"
    assert prompt_for("person, individual, someone, somebody") == "person"
    assert prompt_for("  chest of drawers ") == "chest of drawers"
    assert prompt_for("traffic_light") == "traffic light"
    assert len(VOC_CLASSES) == 20 and len(CONTEXT59_CLASSES) == 59
    assert len(COCO_OBJECT_CLASSES) == 80 and len(ADE150_CLASSES) == 150
    for names in (VOC_CLASSES, CONTEXT59_CLASSES, COCO_OBJECT_CLASSES, ADE150_CLASSES):
        assert len(set(names)) == len(names)


def test_open_dataset_takes_the_profiles_class_prompts(tmp_path):
    """The CLI opens datasets with ``class_prompts=config.segment.class_prompts``: the same prompts the service
    gets from ``dataset_prompts`` (tests/engine/sdov/test_sdov_prompts.py lists them)."""
    from engine.evaluation.datasets import dataset_prompts

    root = _write_context(tmp_path)
    paper, sdov = open_dataset("context", root), open_dataset("context", root, class_prompts="sdov")
    assert paper.kind == sdov.kind == "context"
    assert paper.prompts == dataset_prompts("context", paper.class_names, "paper")
    assert sdov.prompts == dataset_prompts("context", sdov.class_names, "sdov")
    changed = {n: (a, b) for n, a, b in zip(paper.class_names, paper.prompts, sdov.prompts) if a != b}
    assert changed == {"pottedplant": ("potted plant", "plant"), "keyboard": ("keyboard", "computer keyboard")}
    with pytest.raises(BadInputError, match="class_prompts"):
        open_dataset("context", root, class_prompts="nope")
