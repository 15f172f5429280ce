"""CutLER's configuration and image preparation, checked against the values in CutLER's and the authors' files.

detectron2 is not installable here, so ``standin/`` provides its ``get_cfg`` (yacs CfgNode holding detectron2's
defaults) and CutLER's ``add_cutler_config``. Expected values are read from CutLER
``cutler/model_zoo/configs/CutLER-ImageNet/cascade_mask_rcnn_R_50_FPN.yaml`` + ``Base-RCNN-FPN.yaml`` and
karazijal/sdov ``utils/cutler.py``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.config import MaskConfig
from engine.errors import MissingDependencyError, MissingModelError
from engine.masks.cutler_config import build_cutler_cfg, cutler_input, resized_size

STANDIN = Path(__file__).parent / "standin"


@pytest.fixture
def d2(monkeypatch):
    monkeypatch.syspath_prepend(str(STANDIN))
    from cutler_standin_config import add_cutler_config
    from detectron2.config import get_cfg

    yield get_cfg, add_cutler_config
    for name in [n for n in sys.modules if n.split(".")[0] in ("detectron2", "cutler_standin_config")]:
        del sys.modules[name]  # later tests must see detectron2 as absent again


def test_config_is_cutlers_not_detectron2_stock(d2):
    get_cfg, add = d2
    cfg = build_cutler_cfg(get_cfg, add, 0.35, "/w/cutler_cascade_final.pth", "cuda")
    m = cfg.MODEL
    assert m.PIXEL_MEAN == [123.675, 116.280, 103.530] and m.PIXEL_STD == [58.395, 57.120, 57.375]  # yaml:11-12
    assert cfg.INPUT.FORMAT == "RGB"  # yaml:55
    assert m.RESNETS.STRIDE_IN_1X1 is False and m.RESNETS.DEPTH == 50  # yaml:18,20
    assert m.RESNETS.NORM == "BN" and m.FPN.NORM == "BN"  # yaml SyncBN -> BN (sdov utils/cutler.py:20-22)
    assert m.BACKBONE.NAME == "build_resnet_fpn_backbone" and m.BACKBONE.FREEZE_AT == 0
    assert m.FPN.IN_FEATURES == ["res2", "res3", "res4", "res5"]
    assert m.RPN.NMS_THRESH == 0.65 and m.RPN.PRE_NMS_TOPK_TEST == 1000 and m.RPN.POST_NMS_TOPK_TEST == 1000
    assert m.RPN.IN_FEATURES == ["p2", "p3", "p4", "p5", "p6"]
    assert m.ANCHOR_GENERATOR.SIZES == [[32], [64], [128], [256], [512]]
    assert m.ROI_HEADS.NAME == "CustomCascadeROIHeads" and m.ROI_HEADS.NUM_CLASSES == 1
    assert m.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG is True and m.ROI_BOX_HEAD.NUM_FC == 2
    assert m.ROI_MASK_HEAD.NUM_CONV == 4 and m.MASK_ON is True
    for thresh in (m.ROI_HEADS.SCORE_THRESH_TEST, m.RETINANET.SCORE_THRESH_TEST,
                   m.PANOPTIC_FPN.COMBINE.INSTANCES_CONFIDENCE_THRESH):
        assert thresh == 0.35  # sdov utils/cutler.py:24-26,37
    assert m.WEIGHTS == "/w/cutler_cascade_final.pth" and m.DEVICE == "cuda"
    assert cfg.INPUT.MIN_SIZE_TEST == 800 and cfg.INPUT.MAX_SIZE_TEST == 1333
    assert cfg.is_frozen()


def test_config_fails_without_cutlers_keys(d2):
    get_cfg, _ = d2
    with pytest.raises(KeyError, match="USE_DROPLOSS"):
        build_cutler_cfg(get_cfg, lambda cfg: None, 0.35, "w.pth", "cpu")


@pytest.mark.parametrize(
    ("hw", "expected"),
    [((512, 512), (800, 800)), ((480, 640), (800, 1066)), ((640, 480), (1066, 800)), ((200, 1000), (266, 1333))],
)
def test_resize_is_torchvisions_shortest_edge_with_cap(hw, expected):
    assert resized_size(*hw, 800, 1333) == expected


def test_image_goes_in_as_rgb_float_at_800():
    rng = np.random.default_rng(0)
    image = np.zeros((64, 48, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 200, 100, 10  # R, G, B
    item = cutler_input(image, 800, 1333)
    assert (item["height"], item["width"]) == (64, 48)
    x = item["image"]
    assert x.dtype == torch.float32 and tuple(x.shape) == (3, 1066, 800)
    assert torch.equal(x[:, 500, 400], torch.tensor([200.0, 100.0, 10.0]))  # channel 0 is red: no BGR flip
    noisy = rng.integers(0, 256, (800, 1000, 3), dtype=np.uint8)
    same = cutler_input(noisy, 800, 1333)["image"]  # already at size: values untouched (0..255, not 0..1)
    assert torch.equal(same, torch.from_numpy(noisy).permute(2, 0, 1).float())


def test_checkpoint_loading_is_strict(tmp_path):
    from engine.masks.cutler import load_state_strict, read_checkpoint

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    torch.save({"model": state, "iteration": 7}, tmp_path / "ok.pth")
    load_state_strict(net, read_checkpoint(str(tmp_path / "ok.pth")), "ok.pth")
    dropped = {k: v for k, v in state.items() if not k.startswith("1.")}
    with pytest.raises(MissingModelError, match=r"missing 4: 1\.weight"):
        load_state_strict(net, dropped, "c.pth")
    with pytest.raises(MissingModelError, match=r"unexpected 1: fpn\.norm\.weight"):
        load_state_strict(net, {**state, "fpn.norm.weight": torch.ones(4)}, "c.pth")
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(MissingModelError, match="cannot read"):
        read_checkpoint(str(tmp_path / "bad.pth"))


def test_proposer_needs_cutlers_model_code(d2, tmp_path, monkeypatch):
    from engine.masks.cutler import CutlerProposer

    weights = tmp_path / "cutler_cascade_final.pth"
    weights.write_bytes(b"")
    monkeypatch.delenv("OVDIFF_CUTLER_REPO", raising=False)
    with pytest.raises(MissingDependencyError, match="OVDIFF_CUTLER_REPO"):
        CutlerProposer(MaskConfig(proposer="cutler"), weights=str(weights))
