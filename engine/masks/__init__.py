"""Support-image masks: MaskCut / CutLER instance proposals, attribution thresholds, fg/bg selection."""
from engine.masks.cutler import CutlerProposer, is_detectron2_available
from engine.masks.fgbg import Proposer, apply_masks, erode, select_fg_bg, threshold_fg_bg
from engine.masks.maskcut import maskcut, propose_masks_maskcut
from engine.masks.proposer import build_proposer

__all__ = [
    "CutlerProposer",
    "Proposer",
    "apply_masks",
    "build_proposer",
    "erode",
    "is_detectron2_available",
    "maskcut",
    "propose_masks_maskcut",
    "select_fg_bg",
    "threshold_fg_bg",
]
