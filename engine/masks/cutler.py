"""CutLER (Cascade Mask R-CNN trained on MaskCut masks) as an optional instance-mask proposer.

detectron2 is not on PyPI, so this plug-in is only usable when it is importable; otherwise asking for it raises
``MissingDependencyError`` with install instructions, and MaskCut (``engine.masks.maskcut``) is the default.
Weights: the CutLER checkpoint (``cutler_cascade_final.pth``) given as ``weights`` or ``OVDIFF_CUTLER_WEIGHTS``.
The network is detectron2's Cascade Mask R-CNN R50-FPN with one class-agnostic category, which is the shape of
the CutLER checkpoint; a different detectron2 config can be given with ``OVDIFF_CUTLER_CONFIG``.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from engine.config import MaskConfig
from engine.errors import BadInputError, MissingDependencyError, MissingModelError

INSTALL_HINT = (
    "CutLER needs detectron2, which is not on PyPI: "
    "pip install 'git+https://github.com/facebookresearch/detectron2.git' ; then download the CutLER checkpoint "
    "(cutler_cascade_final.pth from github.com/facebookresearch/CutLER) and set OVDIFF_CUTLER_WEIGHTS to its path. "
    "Or use masks.proposer = 'maskcut' (no extra dependency)."
)
_DEFAULT_CONFIG = "Misc/cascade_mask_rcnn_R_50_FPN_3x.yaml"


def is_detectron2_available() -> bool:
    return importlib.util.find_spec("detectron2") is not None


class CutlerProposer:
    """Callable image uint8 (H, W, 3) RGB -> instance masks bool (H, W), highest confidence first."""

    def __init__(self, cfg: MaskConfig, weights: str | None = None, device: str = "cpu") -> None:
        if not is_detectron2_available():
            raise MissingDependencyError(INSTALL_HINT)
        weights = weights or os.environ.get("OVDIFF_CUTLER_WEIGHTS")
        if not weights or not Path(weights).is_file():
            raise MissingModelError(
                f"CutLER checkpoint not found ({weights or 'unset'}): set OVDIFF_CUTLER_WEIGHTS to the path of "
                "cutler_cascade_final.pth"
            )
        from detectron2 import model_zoo  # type: ignore[import-not-found]
        from detectron2.config import get_cfg  # type: ignore[import-not-found]
        from detectron2.engine import DefaultPredictor  # type: ignore[import-not-found]

        d2 = get_cfg()
        config_file = os.environ.get("OVDIFF_CUTLER_CONFIG") or model_zoo.get_config_file(_DEFAULT_CONFIG)
        d2.merge_from_file(config_file)
        d2.MODEL.ROI_HEADS.NUM_CLASSES = 1
        d2.MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG = True
        d2.MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK = True
        d2.MODEL.ROI_HEADS.SCORE_THRESH_TEST = cfg.cutler_confidence
        d2.MODEL.RETINANET.SCORE_THRESH_TEST = cfg.cutler_confidence
        d2.MODEL.WEIGHTS = str(weights)
        d2.MODEL.DEVICE = device
        if device == "cpu" and d2.MODEL.RESNETS.NORM == "SyncBN":  # SyncBN does not run on CPU
            d2.MODEL.RESNETS.NORM = "BN"
            d2.MODEL.FPN.NORM = "BN"
        d2.INPUT.FORMAT = "RGB"
        d2.freeze()
        self._predictor = DefaultPredictor(d2)

    def __call__(self, image: np.ndarray) -> list[np.ndarray]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise BadInputError(f"expected uint8 (H, W, 3), got {image.dtype} {image.shape}", "image")
        inst = self._predictor(image)["instances"].to("cpu")
        order = np.argsort(-inst.scores.numpy(), kind="stable")
        masks = inst.pred_masks.numpy().astype(bool)
        return [masks[i] for i in order if masks[i].any()]
