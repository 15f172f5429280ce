"""Named configuration profiles.

``paper`` and ``paper-shape`` use the paper's settings unchanged (``paper-shape`` differs only in the models:
paper architectures with random weights, see ``engine.models``). ``tiny`` shrinks every size so a CPU runs the
whole pipeline (support set, masks, three prototype banks, a segmentation) in seconds on tiny random models;
its numbers are meaningless, its code paths are the real ones. ``sdov`` is the authors' code where it differs
from the paper's text (``engine.profile_sdov``, docs/SDOV_PROFILE.md), with the paper's real weights.
"""
from __future__ import annotations

import dataclasses

from engine.config import (
    FeatureConfig,
    MaskConfig,
    OVDiffConfig,
    PrototypeConfig,
    SegmentConfig,
    SupportConfig,
)
from engine.errors import BadInputError

PROFILES: tuple[str, ...] = ("tiny", "paper", "paper-shape", "sdov")
# The paper's own mask proposer; a real-weight run with another is recorded as a substitute (engine.record).
PAPER_MASK_PROPOSER = "cutler"
# The one place that knows which profiles carry random weights and what everything showing their output says.
RANDOM_WEIGHT_PROFILES = frozenset({"tiny", "paper-shape"})
RANDOM_WEIGHTS_NOTE = (
    "Produced with randomly initialised models (profile '{profile}'): it proves the plumbing, not the method's "
    "quality. Numbers and masks are meaningless as segmentation results."
)


def is_random_profile(profile: str) -> bool:
    """Profiles whose models carry random weights; their output must be labelled as such everywhere."""
    return profile in RANDOM_WEIGHT_PROFILES


def random_weights_note(profile: str) -> str:
    """The note for output of ``profile``; empty for profiles with real weights."""
    return RANDOM_WEIGHTS_NOTE.format(profile=profile) if is_random_profile(profile) else ""


def _tiny() -> OVDiffConfig:
    """Paper settings with sizes shrunk; every override is listed with its reason."""
    base = OVDiffConfig()
    support = dataclasses.replace(
        base.support,
        n_images=4,  # 64 -> 4: a support set is a handful of images
        batch_size=2,  # 8 -> 2: still exercises batching (2 batches)
        num_inference_steps=10,  # 30 -> 10: the tiny UNet is cheap, but 10 keeps a class well under a second
        image_size=64,  # 512 -> 64: latent 8x8 with the x8 tiny VAE
        attribution_size=32,  # 64 -> 32: per-layer maps are at most 8x8 in the tiny UNet
    )
    masks = dataclasses.replace(base.masks, maskcut_resize=64)  # 480 -> 64: 8x8 DINO patches (patch 8)
    features = dataclasses.replace(
        base.features,
        sd_input_size=64,  # 512 -> 64: matches the support image size
        sd_feature_size=8,  # 64 -> 8: the latent grid of a 64 px input
        clip_input_size=64,  # 448 -> 64: 4x4 patches (patch 16); tiny CLIP is built at 32 px, so positions interpolate
    )
    prototypes = dataclasses.replace(base.prototypes, kmeans_k=4)  # 32 -> 4: few masked features per class
    segment = dataclasses.replace(
        base.segment,
        short_side=112,  # 448 -> 112
        window_sizes=(112, 84),  # (448, 336) scaled by 1/4
        window_stride=56,  # 224 scaled by 1/4
        window_batch_size=4,  # 8 -> 4: less peak memory, same code path
    )
    return OVDiffConfig(
        support=support, masks=masks, features=features, prototypes=prototypes, segment=segment
    )


def default_config(profile: str) -> OVDiffConfig:
    """The configuration of a named profile; an unknown name is a ``BadInputError``."""
    if profile == "tiny":
        return _tiny()
    if profile == "sdov":
        from engine.profile_sdov import sdov_config

        return sdov_config()
    if profile in ("paper", "paper-shape"):
        return OVDiffConfig(
            support=SupportConfig(),
            masks=MaskConfig(),
            features=FeatureConfig(),
            prototypes=PrototypeConfig(),
            segment=SegmentConfig(),
        )
    raise BadInputError(f"unknown profile; choose one of {', '.join(PROFILES)}", item=repr(profile))
