"""Pick the instance-mask proposer named by ``MaskConfig.proposer``."""
from __future__ import annotations

from functools import partial
from typing import Callable

import torch

from engine.config import MaskConfig
from engine.errors import BadInputError
from engine.masks.cutler import CutlerProposer
from engine.masks.fgbg import Proposer
from engine.masks.maskcut import propose_masks_maskcut


def build_proposer(
    cfg: MaskConfig,
    dino_extractor: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: str = "cpu",
) -> Proposer | None:
    """None for "attribution" (or with instance masks switched off); MaskCut needs ``dino_extractor``;
    CutLER raises ``MissingDependencyError`` without detectron2."""
    if cfg.proposer == "attribution" or not cfg.use_instance_masks:
        return None
    if cfg.proposer == "maskcut":
        if dino_extractor is None:
            raise BadInputError("MaskCut needs a DINO key-feature extractor", "masks.proposer")
        return partial(propose_masks_maskcut, dino_extractor=dino_extractor, cfg=cfg)
    if cfg.proposer == "cutler":
        return CutlerProposer(cfg, device=device)
    raise BadInputError(f"unknown proposer {cfg.proposer!r} (maskcut, cutler, attribution)", "masks.proposer")
