"""What a run reproduced: profile, exact model weights, the mask proposer used, and every setting changed.

Written into metrics.json (CLI ``evaluate`` and the service) and shown on the run page, so a reported mIoU can be
traced to its configuration. The paper's mask proposer is CutLER; a ``paper``/``sdov`` run with MaskCut (the
default when detectron2 is missing) says so in ``mask_proposer_note``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.config import OVDiffConfig
from engine.profiles import PAPER_MASK_PROPOSER, default_config, is_random_profile
from engine.weights_hash import weights_digest

if TYPE_CHECKING:
    from engine.models.registry import ModelRegistry

MASKCUT_SUBSTITUTE = "MaskCut substitute for CutLER"
ROLES = ("generator", "dino", "clip")


def changed_settings(config: OVDiffConfig, profile: str) -> list[dict[str, Any]]:
    """``[{"setting": "support.n_images", "value": 8, "default": 64}, ...]``: fields that differ from the profile."""
    base, ours = default_config(profile).to_dict(), config.to_dict()
    out = []
    for group, fields in ours.items():
        for name, value in fields.items():
            default = base[group][name]
            if value != default:
                out.append({"setting": f"{group}.{name}", "value": value, "default": default})
    return out


def proposer_record(config: OVDiffConfig, profile: str, with_weights: bool = True) -> dict[str, Any]:
    """The instance-mask proposer actually used, with the substitute note for the paper's profiles
    (``with_weights``: also the CutLER checkpoint's path and sha256, which reads the file)."""
    masks = config.masks
    used = masks.proposer if masks.use_instance_masks else "attribution"
    out: dict[str, Any] = {"mask_proposer": used}
    if not is_random_profile(profile) and used != PAPER_MASK_PROPOSER:
        out["mask_proposer_note"] = MASKCUT_SUBSTITUTE if used == "maskcut" else f"{used} instead of CutLER"
    if used == "cutler" and with_weights:
        from engine.masks.cutler import cutler_weights_identity

        out["cutler_weights"] = cutler_weights_identity()
    return out


def model_records(registry: "ModelRegistry") -> dict[str, dict[str, Any]]:
    """role -> source (hub id or directory), identity (with hub commit) and the sha256 digest of its weight files;
    roles the profile does not have (dinov2-small: generator, CLIP) are left out, not named as random models."""
    out = {}
    for role in ROLES:
        if not registry.has_role(role):
            continue
        path = registry.weights_path(role)
        entry: dict[str, Any] = {"identity": registry.identity(role)}
        if path is not None:
            entry.update(source=registry.source(role), path=str(path), weights_sha256=weights_digest(path))
        out[role] = entry
    return out


def settings_record(config: OVDiffConfig, profile: str) -> dict[str, Any]:
    """The part of ``run_record`` that needs no file: profile, proposer (and note), changed settings."""
    return {"profile": profile, **proposer_record(config, profile, with_weights=False),
            "settings_changed": changed_settings(config, profile)}


def run_record(config: OVDiffConfig, registry: "ModelRegistry") -> dict[str, Any]:
    """Everything that says what an evaluation reproduced (see the module docstring). Loads no model."""
    profile = registry.profile
    return {
        "profile": profile,
        "models": model_records(registry),
        **proposer_record(config, profile),
        "settings_changed": changed_settings(config, profile),
    }
