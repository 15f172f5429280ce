"""CutLER (Cascade Mask R-CNN trained on MaskCut masks), the paper's instance-mask proposer, as a plug-in.

It needs two things that are not on PyPI: detectron2, and CutLER's own model code (its ``cutler/`` directory,
which registers ``CustomCascadeROIHeads``; the authors' code imports it the same way, ``utils/cutler.py:8-9``).
Without them asking for it raises ``MissingDependencyError`` with install instructions (README, "CutLER").
The network is built from CutLER's configuration (``engine.masks.cutler_config``), the checkpoint is loaded
strictly (any missing or unexpected key is an error that names them), and images go into the model as RGB
tensors exactly as the authors' ``CUTLER_Processor`` passes them.

Settings: ``OVDIFF_CUTLER_WEIGHTS`` (``cutler_cascade_final.pth``) and ``OVDIFF_CUTLER_REPO`` (the ``cutler/``
directory of a CutLER clone); ``MaskConfig.cutler_confidence`` (0.35).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from engine.config import MaskConfig
from engine.errors import MissingDependencyError, MissingModelError
from engine.masks.cutler_config import build_cutler_cfg, cutler_input
from engine.weights_hash import file_sha256

INSTALL_HINT = (
    "CutLER needs detectron2 and CutLER's model code, neither on PyPI: "
    "pip install 'git+https://github.com/facebookresearch/detectron2.git' ; "
    "git clone https://github.com/facebookresearch/CutLER and set OVDIFF_CUTLER_REPO to its cutler/ directory; "
    "download cutler_cascade_final.pth and set OVDIFF_CUTLER_WEIGHTS to its path. "
    "Or use masks.proposer = 'maskcut' (no extra dependency)."
)


def cutler_weights_identity(weights: str | None = None) -> str:
    """Path and sha256 of the CutLER checkpoint (for cache keys and run records); "unset" when not configured."""
    weights = weights or os.environ.get("OVDIFF_CUTLER_WEIGHTS")
    if not weights or not Path(weights).is_file():
        return f"cutler:{weights or 'unset'}"
    return f"cutler:{weights}@sha256:{file_sha256(weights)[:16]}"


def is_detectron2_available() -> bool:
    return importlib.util.find_spec("detectron2") is not None


def _cutler_modules() -> tuple[Any, Any]:
    """CutLER's ``add_cutler_config`` and ``build_model``; its modules import each other top-level
    (``from structures import ...``), so its ``cutler/`` directory must be on ``sys.path``."""
    repo = os.environ.get("OVDIFF_CUTLER_REPO")
    if not repo or not (Path(repo) / "modeling").is_dir():
        where = repo or "unset"
        raise MissingDependencyError(f"OVDIFF_CUTLER_REPO is {where}, not CutLER's cutler/ dir. {INSTALL_HINT}")
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from config import add_cutler_config  # type: ignore[import-not-found]
    from modeling import build_model  # type: ignore[import-not-found]

    return add_cutler_config, build_model


def load_state_strict(model: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load every weight or fail: detectron2's checkpointer only logs dropped keys, which hid a misbuilt net."""
    result = model.load_state_dict(dict(state), strict=False)
    problems = []
    if result.missing_keys:
        problems.append(f"missing {len(result.missing_keys)}: {', '.join(result.missing_keys[:20])}")
    if result.unexpected_keys:
        problems.append(f"unexpected {len(result.unexpected_keys)}: {', '.join(result.unexpected_keys[:20])}")
    if problems:
        raise MissingModelError(f"{source} does not match the CutLER network ({'; '.join(problems)})")


def read_checkpoint(path: str) -> dict[str, torch.Tensor]:
    """The ``model`` state dict of a detectron2 ``.pth`` checkpoint (tensors only)."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
        raise MissingModelError(f"cannot read CutLER checkpoint {path}: {exc}") from exc
    state = blob.get("model", blob) if isinstance(blob, dict) else None
    if not isinstance(state, dict):
        raise MissingModelError(f"{path} holds no 'model' state dict")
    return state


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
        from detectron2.config import get_cfg  # type: ignore[import-not-found]

        add_cutler_config, build_model = _cutler_modules()
        self.weights = str(weights)
        self.cfg = build_cutler_cfg(get_cfg, add_cutler_config, cfg.cutler_confidence, self.weights, device)
        self.model = build_model(self.cfg)
        load_state_strict(self.model, read_checkpoint(self.weights), self.weights)
        self.model.eval()

    def __call__(self, image: np.ndarray) -> list[np.ndarray]:
        batch = [cutler_input(image, self.cfg.INPUT.MIN_SIZE_TEST, self.cfg.INPUT.MAX_SIZE_TEST)]
        with torch.no_grad():
            inst = self.model(batch)[0]["instances"].to("cpu")
        order = np.argsort(-inst.scores.numpy(), kind="stable")
        masks = inst.pred_masks.numpy().astype(bool)
        return [masks[i] for i in order if masks[i].any()]
