"""The command line end to end on the tiny profile: segment, evaluate, score, and its error messages."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.config import apply_overrides
from engine.evaluation.demo_data import write_demo_dataset
from engine.profiles import default_config


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return str(tmp_path_factory.mktemp("store"))


@pytest.mark.slow  # seconds (subprocesses, every route or file kind): make test, not test-fast
def test_segment_writes_palette_png_overlay_legend_and_explanations(tmp_path, store):
    img = tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)).save(img)
    out = tmp_path / "out"
    assert main(["segment", str(img), "--classes", "brick, grass", "--stuff", "grass", "--profile", "tiny",
                 "--store", store, "--out", str(out), "--explain", "--quiet"]) == 0
    labels = Image.open(out / "labels.png")
    assert labels.mode == "P" and labels.size == (80, 60)
    legend = json.loads((out / "legend.json").read_text())
    assert [c["name"] for c in legend["classes"]] == ["background", "brick", "grass"]
    assert legend["random_weights"] is True and "randomly initialised" in legend["note"]
    assert legend["stuff"] == ["grass"]
    assert legend["explanations"] and all("source" in e for e in legend["explanations"])
    assert (out / "overlay.png").exists()


def test_evaluate_then_score_agree(tmp_path, store):
    root = write_demo_dataset(tmp_path / "ds", n_images=3, size=64)
    out = tmp_path / "eval"
    assert main(["evaluate", "--dataset", "folder", "--root", str(root), "--profile", "tiny", "--store", store,
                 "--out", str(out), "--limit", "2", "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 2 and len(metrics["per_image"]) == 2
    assert 0.0 <= metrics["miou"] <= 1.0 and metrics["random_weights"] is True
    assert len(metrics["confusion"]["matrix"]) == 4
    record = metrics["reproduction"]  # what was reproduced: see tests/engine/sdov/test_run_record.py
    assert record["profile"] == "tiny" and record["mask_proposer"] == "maskcut" and record["settings_changed"] == []
    assert record["models"]["generator"]["identity"].startswith("tiny:random")
    # Score the written predictions with the standalone scorer: same confusion, same mIoU.
    gt = tmp_path / "gt"
    gt.mkdir()
    for p in sorted((root / "masks").glob("*.png"))[:2]:
        (gt / p.name).write_bytes(p.read_bytes())
    assert main(["score", "--pred", str(out / "pred"), "--gt", str(gt), "--num-classes", "4",
                 "--out", str(tmp_path / "score.json")]) == 0
    scored = json.loads((tmp_path / "score.json").read_text())
    assert scored["miou"] == pytest.approx(metrics["miou"])


def test_errors_are_one_line_with_status_2(tmp_path, capsys, store):
    bad = tmp_path / "bad.png"
    bad.write_text("<html>not an image</html>")
    assert main(["segment", str(bad), "--classes", "cat", "--profile", "tiny", "--store", store,
                 "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "bad.png" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", "voc", "--root", str(tmp_path), "--profile", "tiny", "--store", store,
                 "--out", str(tmp_path / "o")]) == 2
    assert main(["segment", str(bad), "--classes", "cat", "--stuff", "sky", "--profile", "tiny",
                 "--store", store, "--out", str(tmp_path / "o")]) == 2
    assert "sky" in capsys.readouterr().err


def test_set_overrides_switch_ablations_and_reject_unknown_settings():
    cfg = apply_overrides(default_config("paper"), ["segment.use_background_prototypes=false",
                                                    "segment.window_sizes=[448]", "support.prompt_template=A {}"])
    assert cfg.segment.use_background_prototypes is False
    assert cfg.segment.window_sizes == (448,)
    assert cfg.support.prompt_template == "A {}"
    with pytest.raises(Exception, match="unknown setting"):
        apply_overrides(cfg, ["segment.nonsense=1"])


@pytest.mark.slow  # seconds (subprocesses, every route or file kind): make test, not test-fast
def test_evaluate_without_background_predicts_a_class_everywhere(tmp_path, store):
    """Without-background protocol (no "background" in classes.txt): every pixel gets one of the classes."""
    root = write_demo_dataset(tmp_path / "ds", n_images=2, size=64)
    lines = (root / "classes.txt").read_text().splitlines()
    (root / "classes.txt").write_text("\n".join(lines[1:]) + "\n")
    from engine.images import load_label_png, save_label_png

    for p in (root / "masks").glob("*.png"):  # shift labels down; old background becomes ignore
        lab = load_label_png(p)
        save_label_png(np.where(lab == 0, 255, lab - 1).astype(np.uint8), p)
    out = tmp_path / "eval"
    assert main(["evaluate", "--dataset", "folder", "--root", str(root), "--profile", "tiny", "--store", store,
                 "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["confusion"]["matrix"]) == 3
    pred = np.asarray(Image.open(next((out / "pred").glob("*.png"))))
    assert set(np.unique(pred)) <= {0, 1, 2}
