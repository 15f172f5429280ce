"""CutLER's own detectron2 configuration and image preparation, as the authors' code uses them.

Why a table and not a file: CutLER's checkpoint only works with the network its config describes (RGB pixel
statistics, ``STRIDE_IN_1X1=False``, batch-norm in backbone AND FPN, a cascade ROI head, RPN NMS 0.65). The
stock detectron2 ``Misc/cascade_mask_rcnn_R_50_FPN_3x.yaml`` differs in each of these, so every value CutLER's
``CutLER-ImageNet/cascade_mask_rcnn_R_50_FPN.yaml`` (and its ``Base-RCNN-FPN.yaml``) sets for inference is
listed below with its source line, and applied on top of detectron2's ``get_cfg()`` plus CutLER's
``add_cutler_config``. Training-only keys (solver, data loader, copy-paste) are left out: they build nothing.

Then the authors' overrides (karazijal/sdov ``utils/cutler.py``): confidence 0.35 for the ROI, RetinaNet and
panoptic thresholds (``:24-26``, ``:37``), and SyncBN -> BN in backbone and FPN (``:20-22``; the authors always
ran CutLER on CPU, ``:37``). In eval mode SyncBN and BN compute the same thing from the same parameters, so BN
is used on every device. Images go in as an RGB float tensor (0..255) resized with torchvision's
``Resize(MIN_SIZE_TEST, max_size=MAX_SIZE_TEST)`` (``utils/cutler.py:55,63,76``), NOT through detectron2's
``DefaultPredictor`` (which expects BGR and flips channels when ``INPUT.FORMAT`` is RGB).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import BadInputError

_Y = "CutLER cutler/model_zoo/configs/CutLER-ImageNet/cascade_mask_rcnn_R_50_FPN.yaml"
_B = "CutLER cutler/model_zoo/configs/Base-RCNN-FPN.yaml"

# (dotted key, value, source) in merge order: base file first, then the CutLER-ImageNet file.
CUTLER_SETTINGS: tuple[tuple[str, Any, str], ...] = (
    ("MODEL.META_ARCHITECTURE", "GeneralizedRCNN", f"{_B}:2"),
    ("MODEL.BACKBONE.NAME", "build_resnet_fpn_backbone", f"{_B}:4"),
    ("MODEL.RESNETS.OUT_FEATURES", ["res2", "res3", "res4", "res5"], f"{_B}:6"),
    ("MODEL.FPN.IN_FEATURES", ["res2", "res3", "res4", "res5"], f"{_B}:8"),
    ("MODEL.ANCHOR_GENERATOR.SIZES", [[32], [64], [128], [256], [512]], f"{_B}:10"),
    ("MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS", [[0.5, 1.0, 2.0]], f"{_B}:11"),
    ("MODEL.RPN.IN_FEATURES", ["p2", "p3", "p4", "p5", "p6"], f"{_B}:13"),
    ("MODEL.RPN.PRE_NMS_TOPK_TEST", 1000, f"{_B}:15"),
    ("MODEL.RPN.POST_NMS_TOPK_TEST", 1000, f"{_B}:20"),
    ("MODEL.ROI_HEADS.IN_FEATURES", ["p2", "p3", "p4", "p5"], f"{_B}:23"),
    ("MODEL.ROI_BOX_HEAD.NAME", "FastRCNNConvFCHead", f"{_B}:25"),
    ("MODEL.ROI_BOX_HEAD.NUM_FC", 2, f"{_B}:26"),
    ("MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION", 7, f"{_B}:27"),
    ("MODEL.ROI_MASK_HEAD.NAME", "MaskRCNNConvUpsampleHead", f"{_B}:29"),
    ("MODEL.ROI_MASK_HEAD.NUM_CONV", 4, f"{_B}:30"),
    ("MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION", 14, f"{_B}:31"),
    ("MODEL.PIXEL_MEAN", [123.675, 116.280, 103.530], f"{_Y}:11"),
    ("MODEL.PIXEL_STD", [58.395, 57.120, 57.375], f"{_Y}:12"),
    ("MODEL.MASK_ON", True, f"{_Y}:14"),
    ("MODEL.BACKBONE.FREEZE_AT", 0, f"{_Y}:16"),
    ("MODEL.RESNETS.DEPTH", 50, f"{_Y}:18"),
    ("MODEL.RESNETS.NORM", "SyncBN", f"{_Y}:19"),
    ("MODEL.RESNETS.STRIDE_IN_1X1", False, f"{_Y}:20"),
    ("MODEL.FPN.NORM", "SyncBN", f"{_Y}:22"),
    ("MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG", True, f"{_Y}:24"),
    ("MODEL.ROI_HEADS.NAME", "CustomCascadeROIHeads", f"{_Y}:26"),
    ("MODEL.ROI_HEADS.NUM_CLASSES", 1, f"{_Y}:27"),
    ("MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.0, f"{_Y}:28"),
    ("MODEL.ROI_HEADS.POSITIVE_FRACTION", 0.25, f"{_Y}:29"),
    ("MODEL.ROI_HEADS.USE_DROPLOSS", True, f"{_Y}:30"),
    ("MODEL.ROI_HEADS.DROPLOSS_IOU_THRESH", 0.01, f"{_Y}:31"),
    ("MODEL.RPN.NMS_THRESH", 0.65, f"{_Y}:34"),
    ("INPUT.MASK_FORMAT", "bitmask", f"{_Y}:54"),
    ("INPUT.FORMAT", "RGB", f"{_Y}:55"),
    ("TEST.DETECTIONS_PER_IMAGE", 100, f"{_Y}:60"),
)

# The authors' inference overrides (karazijal/sdov utils/cutler.py).
_CONFIDENCE_KEYS = (
    "MODEL.RETINANET.SCORE_THRESH_TEST",
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
    "MODEL.PANOPTIC_FPN.COMBINE.INSTANCES_CONFIDENCE_THRESH",
)
_NORM_KEYS = ("MODEL.RESNETS.NORM", "MODEL.FPN.NORM")


def _set(cfg: Any, dotted: str, value: Any) -> None:
    """Assign an existing key; an unknown key means the config is not the one we think it is."""
    *path, leaf = dotted.split(".")
    node = cfg
    for part in path:
        node = getattr(node, part)
    if leaf not in node:
        raise KeyError(f"detectron2 config has no key {dotted} (is add_cutler_config applied?)")
    setattr(node, leaf, value)


def build_cutler_cfg(
    get_cfg: Callable[[], Any],
    add_cutler_config: Callable[[Any], None],
    confidence: float,
    weights: str,
    device: str,
) -> Any:
    """detectron2 CfgNode for CutLER inference: defaults + CutLER keys + CutLER's yaml + the authors' overrides."""
    cfg = get_cfg()
    add_cutler_config(cfg)
    for key, value, _source in CUTLER_SETTINGS:
        _set(cfg, key, value)
    for key in _CONFIDENCE_KEYS:
        _set(cfg, key, float(confidence))
    for key in _NORM_KEYS:
        _set(cfg, key, "BN")
    _set(cfg, "MODEL.WEIGHTS", str(weights))
    _set(cfg, "MODEL.DEVICE", device)
    cfg.freeze()
    return cfg


def resized_size(height: int, width: int, min_size: int, max_size: int) -> tuple[int, int]:
    """torchvision ``Resize(min_size, max_size=max_size)`` output size (short side to min_size, long side capped)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = min_size, int(min_size * long / short)
    if new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if width <= height else (new_short, new_long)


def cutler_input(image: np.ndarray, min_size: int, max_size: int) -> dict[str, Any]:
    """The model input dict for one uint8 (H, W, 3) RGB image: RGB float 0..255 CHW, bilinear resize without
    antialias (torchvision 0.13 on tensors), and the original size so masks come back at full resolution."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise BadInputError(f"expected uint8 (H, W, 3), got {image.dtype} {image.shape}", "image")
    height, width = image.shape[:2]
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()
    size = resized_size(height, width, min_size, max_size)
    if size != (height, width):
        tensor = F.interpolate(tensor[None], size=size, mode="bilinear", align_corners=False, antialias=False)[0]
    return {"image": tensor, "height": height, "width": width}
