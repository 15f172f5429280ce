"""``get_cfg`` / ``CfgNode`` on yacs, holding detectron2's defaults for the keys ovdiff's CutLER config sets."""
from yacs.config import CfgNode

_DEFAULTS = {
    "MODEL": {
        "DEVICE": "cuda", "WEIGHTS": "", "META_ARCHITECTURE": "GeneralizedRCNN", "MASK_ON": False,
        "PIXEL_MEAN": [103.530, 116.280, 123.675], "PIXEL_STD": [1.0, 1.0, 1.0],
        "BACKBONE": {"NAME": "build_resnet_backbone", "FREEZE_AT": 2},
        "RESNETS": {"DEPTH": 50, "OUT_FEATURES": ["res4"], "NORM": "FrozenBN", "STRIDE_IN_1X1": True},
        "FPN": {"IN_FEATURES": [], "NORM": ""},
        "ANCHOR_GENERATOR": {"SIZES": [[32, 64, 128, 256, 512]], "ASPECT_RATIOS": [[0.5, 1.0, 2.0]]},
        "RPN": {"IN_FEATURES": ["res4"], "PRE_NMS_TOPK_TEST": 6000, "POST_NMS_TOPK_TEST": 1000, "NMS_THRESH": 0.7},
        "ROI_HEADS": {"NAME": "Res5ROIHeads", "NUM_CLASSES": 80, "IN_FEATURES": ["res4"], "SCORE_THRESH_TEST": 0.05,
                      "POSITIVE_FRACTION": 0.25},
        "ROI_BOX_HEAD": {"NAME": "", "NUM_FC": 0, "POOLER_RESOLUTION": 14, "CLS_AGNOSTIC_BBOX_REG": False},
        "ROI_MASK_HEAD": {"NAME": "MaskRCNNConvUpsampleHead", "NUM_CONV": 0, "POOLER_RESOLUTION": 14},
        "RETINANET": {"SCORE_THRESH_TEST": 0.05},
        "PANOPTIC_FPN": {"COMBINE": {"INSTANCES_CONFIDENCE_THRESH": 0.5}},
    },
    "INPUT": {"MIN_SIZE_TEST": 800, "MAX_SIZE_TEST": 1333, "FORMAT": "BGR", "MASK_FORMAT": "polygon"},
    "TEST": {"DETECTIONS_PER_IMAGE": 100},
}


def get_cfg() -> CfgNode:
    return CfgNode(_DEFAULTS).clone()
