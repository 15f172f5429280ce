"""Every hyperparameter of OVDiff as a frozen dataclass field, paper value as default.

Configs are hashed into artifact keys (see ``engine.storage.store``), so any field that changes an
artifact must live here, and nothing that does not (paths, devices, progress) may.
Each paper ablation is a boolean switch. See docs/METHOD.md for sources.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from engine.errors import BadInputError

from engine.runtime import RuntimeConfig

# Stable Diffusion cross-attention layers whose to_q projections are features (paper, sec. 3).
SD_PAPER_LAYERS: tuple[str, ...] = (
    "down_blocks.0.attentions.0",
    "up_blocks.1.attentions.0",
    "up_blocks.1.attentions.1",
    "up_blocks.1.attentions.2",
    "up_blocks.2.attentions.0",
    "up_blocks.2.attentions.1",
    "up_blocks.2.attentions.2",
    "up_blocks.3.attentions.2",
)
# The authors' code also adds the mid block (7,680-d in total).
SD_CODE_EXTRA_LAYERS: tuple[str, ...] = ("mid_block.attentions.0",)

CODE_NEGATIVE_PROMPT = "text, low quality, blurry, cartoon, meme, low resolution, bad, poor, faded"


@dataclass(frozen=True)
class SupportConfig:
    """Support-set sampling with Stable Diffusion (docs/METHOD.md#support-sampling)."""

    prompt_template: str = "A good photo of a {}"  # code: "A good picture of a {}"
    negative_prompt: str = ""  # code: CODE_NEGATIVE_PROMPT
    n_images: int = 64  # paper N; code default 32
    batch_size: int = 8
    seed: int = 42  # one seed per class, reset for each class
    num_inference_steps: int = 30
    guidance_scale: float = 8.0
    # "dpm-solver": the installed diffusers' DPM-Solver++ (ends at sigma 0); "dpm-solver-0.14": the schedule of the
    # diffusers release the authors pinned (ends at the sigma of timestep 0, second-order last step): support.schedule
    scheduler: Literal["dpm-solver", "dpm-solver-0.14"] = "dpm-solver"
    image_size: int = 512  # tiny profile overrides
    attribution_size: int = 64  # per-layer maps upsampled (bicubic) to this before summing
    # multi-token class names: "mean-then-upsample" averages the tokens' probabilities, then upsamples and clamps
    # once; "upsample-then-mean" upsamples and clamps each token's map, then averages (code: sd.py DAAMStore)
    attribution_token_order: Literal["mean-then-upsample", "upsample-then-mean"] = "mean-then-upsample"
    attribution_final_mode: Literal["bicubic", "bilinear"] = "bicubic"  # to image size; code: bilinear


@dataclass(frozen=True)
class MaskConfig:
    """fg/bg masks of support images (docs/METHOD.md#support-masks)."""

    proposer: Literal["maskcut", "cutler", "attribution"] = "maskcut"
    use_instance_masks: bool = True  # ablation: False = attribution thresholds only
    maskcut_tau: float = 0.15
    maskcut_n: int = 3
    maskcut_resize: int = 480
    maskcut_iou_drop: float = 0.5
    maskcut_min_area: float = 0.01
    maskcut_layer: int | None = None  # MaskCut's own block of the "maskcut" backbone; None: features.dino_layer
    maskcut_facet: Literal["key", "query", "value", "token"] | None = None  # None: features.dino_facet
    maskcut_center: bool = False  # subtract the mean feature first (DINOv2 keys share a component: all cosines > tau)
    maskcut_area_rule_first: bool = True  # drop a tiny first mask too; CutLER: from the 2nd (maskcut.py:136)
    maskcut_resample: Literal["bilinear", "lanczos"] = "bilinear"  # image -> maskcut_resize; CutLER: Lanczos (:164)
    # a user image without masks: "first" = the proposer's first mask is fg (the paper's rule for its images);
    # "border" = the first candidate (the first mask, its complement, the other masks) holding at most
    # user_fg_max_border of the image's border pixels (a mask holding most of a crop's border is rarely the object);
    # stuff classes keep "first"; "extent" = the candidate whose box spans most of the image while it holds least of
    # the border (engine.masks.fgbg.extent_score: a crop frames its object with a margin), stuff or thing;
    # "vocabulary" = "extent" for an image seen alone (its class page), and at segmentation one candidate per image
    # chosen with the vocabulary's other classes in view (engine.masks.vocabulary, docs/REAL_WEIGHTS.md)
    user_fg_rule: Literal["first", "border", "extent", "vocabulary"] = "first"
    user_fg_max_border: float = 0.5
    # "vocabulary" (engine.masks.vocabulary): weight of each image's extent score against how its fg resembles its own
    # class's other images (centred cosine), and the centred cosine above which two classes' fgs are the same thing
    user_fg_vocab_weight: float = 0.5
    user_fg_vocab_conflict: float = 0.85
    cutler_confidence: float = 0.35
    fg_threshold: float = 0.5  # fallback: fg = attribution > 0.5
    bg_threshold: float = 0.2  # bg = attribution < 0.2
    bg_erosion_iterations: int = 1  # binary erosion of the bg region (3x3 structuring element)
    # a pixel covered only by masks of zero mean attribution: "covering" = it goes to its (best) covering mask;
    # "top" = to the top-scoring mask, as the code's argmax of mask * score (sample_support_set.py:249)
    zero_score_pixels: Literal["covering", "top"] = "covering"


@dataclass(frozen=True)
class FeatureConfig:
    """Feature extractors used for prototypes and targets alike (docs/METHOD.md#feature-extractors)."""

    extractors: tuple[str, ...] = ("sd", "dino", "clip")
    sd_timestep: int = 200
    sd_layers: tuple[str, ...] = SD_PAPER_LAYERS
    sd_include_mid_block: bool = False  # code: True
    sd_feature_size: int = 64
    sd_input_size: int = 512
    sd_latent: Literal["mean", "sample"] = "mean"  # VAE posterior mean; code: a sample (latent_dist.sample)
    sd_noise_seed: int = 0  # noise (and latent sample) seed; code: 43
    dino_layer: int = -1  # last block
    dino_facet: Literal["key", "query", "value", "token"] = "key"
    dino_max_side: int = 0  # 0 = no cap; code: long side capped at 800 (predict.py:176-188)
    dino_fit: Literal["resize", "crop"] = "resize"  # to the patch grid; code: crop (the stride-8 conv drops the rest)
    clip_layer: int = -2  # second-to-last block
    clip_facet: Literal["key", "query", "value", "token"] = "key"
    clip_input_size: int = 448
    clip_support_native: bool = False  # support images at their own size (512 -> 32x32), not squashed to 448
    clip_normalisation: Literal["imagenet", "clip"] = "imagenet"  # code uses ImageNet mean/std
    # inputs shrunk to an extractor's size (SD 512, CLIP 448, DINO's patch grid) with an antialiased bilinear resize;
    # code: False (torchvision 0.13's tensor resize has no antialias: predict.py SDFeats.resize, ViTFeats.resize)
    resize_antialias: bool = True


@dataclass(frozen=True)
class PrototypeConfig:
    """Instance, class and part prototypes per class (docs/METHOD.md#prototypes)."""

    use_instance: bool = True
    use_class: bool = True
    use_parts: bool = True  # ablation "class prototype only": use_instance=use_parts=False
    kmeans_k: int = 32  # part prototypes per side ("fixed" rule) or their upper bound ("adaptive")
    # how many part prototypes a side gets: "fixed" = kmeans_k (the paper: 32 for its 32-64 images); "adaptive" =
    # one per parts_patches_per_part pooled patches of that side, at most kmeans_k, none below that many patches
    parts_rule: Literal["fixed", "adaptive"] = "fixed"
    parts_patches_per_part: int = 64
    parts_balance: bool = False  # bg side gets at most as many part prototypes as the fg side of the same bank
    kmeans_max_iter: int = 300
    kmeans_tol: float = 1e-4
    kmeans_seed: int = 0
    pool_dtype: Literal["float16", "float32"] = "float16"  # memory; clustering accumulates in float32


@dataclass(frozen=True)
class SegmentConfig:
    """Segmenting a target image against a vocabulary (docs/METHOD.md#segmenting-an-image)."""

    short_side: int = 448
    # the long side at short_side: "round" (mmseg's rescale rule) or "floor" (torchvision's int(size * long / short):
    # the code's TF.resize(img, 448), predict.py:37-40 EvalDataset.__getitem__)
    short_side_rounding: Literal["round", "floor"] = "round"
    sliding_window: bool = True  # ablation: whole image only
    window_sizes: tuple[int, ...] = (448, 336)
    window_stride: int = 224
    include_whole_image: bool = True
    window_batch_size: int = 8
    use_background_prototypes: bool = True  # ablation: fixed threshold instead
    background_threshold: float = 0.75
    zero_nonpositive_scores: bool = True  # code: scores <= 0 zeroed, ties -> background
    category_prefilter: bool = True
    prefilter_max_classes: int = 10
    prefilter_prompt: str = "a {}"
    prefilter_subset_search: bool = True
    # image fed to the pre-filter: "original" (antialiased resize to CLIP's input) or "code" (448 short side,
    # 512x512 Lanczos, then CLIP's 224 bilinear without antialias: clip_class.py:29 after mmdata.prep_sample)
    prefilter_image_prep: Literal["original", "code"] = "original"
    # the pre-filter's CLIP: "auto" = the CLIP role's precision (runtime.clip_dtype); "float16" = fp16 on CUDA, fp32
    # on the CPU (the authors' clip.load); engine.runtime.prefilter_dtype_name
    prefilter_clip_dtype: Literal["auto", "float16"] = "auto"
    thing_stuff_table: str = ""  # "" = each dataset's own convention (labeller); "paper_chatgpt" = code's IS_STUFF
    # a registered dataset's class -> prompt (engine.evaluation.datasets.prompts.dataset_prompts): "paper" = the
    # paper's VOC renames plus readability renames; "sdov" = the authors' class names and CLASS_TO_PROMPT_OVERLAY
    class_prompts: Literal["paper", "sdov"] = "paper"
    deselected_score: float = -1.0
    stuff_filter: bool = True
    stuff_filter_threshold: float = 0.85
    # whose foreground the filter tests background prototypes against: "stuff" classes (the paper), or every class
    # of the vocabulary ("vocabulary": a crop's background often shows another class of the same vocabulary)
    stuff_filter_scope: Literal["stuff", "vocabulary"] = "stuff"
    # a thing class's bg prototypes are tested only when it has at least this many; fewer are kept unfiltered (code:
    # 2, the early return of protos.py filter_proto_bg2allfg for a single bg prototype)
    stuff_filter_min_prototypes: int = 1
    pamr: bool = False
    pamr_iterations: int = 10
    pamr_dilations: tuple[int, ...] = (1, 2, 4, 8, 12, 24)
    max_image_pixels: int = 40_000_000  # refuse larger images clearly
    prototype_chunk: int = 4096  # prototypes per matmul chunk: bounds memory


@dataclass(frozen=True)
class ReviewConfig:
    """When a support image is shown first for review (``engine.support.review``). Not part of ``OVDiffConfig``:
    it changes what a person looks at, never an artifact or a result."""

    min_fg_fraction: float = 0.01  # fg covering less of the image: "empty foreground"
    max_fg_fraction: float = 0.9  # fg covering more: "whole-image foreground" (the mask took the background)
    # fg holding more of the image's outermost pixel ring: "foreground on the border" (an uploaded crop shows the
    # object with a margin; on tight real crops MaskCut's first mask held 0.67-0.93 of it when it took the
    # background, at most 0.63 when it took (part of) the object: docs/REAL_WEIGHTS.md)
    max_border_share: float = 0.65
    min_attribution_iou: float = 0.2  # IoU of fg with attribution > masks.fg_threshold below this: "disagrees"
    hash_size: int = 8  # average-hash side (hash_size**2 bits) for near duplicates
    duplicate_max_bits: int = 4  # images whose hashes differ in at most this many bits: "near duplicate"


@dataclass(frozen=True)
class OVDiffConfig:
    support: SupportConfig = field(default_factory=SupportConfig)
    masks: MaskConfig = field(default_factory=MaskConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    prototypes: PrototypeConfig = field(default_factory=PrototypeConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)  # how models run; not hashed (engine.runtime)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "OVDiffConfig":
        """Build from a (possibly partial) nested dict; unknown keys are an error."""
        data = data or {}
        parts: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            sub = data.get(f.name, {}) or {}
            sub_cls = type(f.default_factory())  # type: ignore[misc]
            known = {x.name for x in dataclasses.fields(sub_cls)}
            unknown = set(sub) - known
            if unknown:
                raise ValueError(f"unknown {f.name} setting(s): {', '.join(sorted(unknown))}")
            kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in sub.items()}
            parts[f.name] = sub_cls(**kwargs)
        extra = set(data) - {f.name for f in dataclasses.fields(cls)}
        if extra:
            raise ValueError(f"unknown setting group(s): {', '.join(sorted(extra))}")
        return cls(**parts)

    def replace(self, **groups: Any) -> "OVDiffConfig":
        return dataclasses.replace(self, **groups)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _override_items(overrides: Mapping[str, Any] | Sequence[str]) -> list[tuple[str, str, Any]]:
    if isinstance(overrides, Mapping):
        items = []
        for group, fields in overrides.items():
            if not isinstance(fields, Mapping):
                raise BadInputError(f"settings group {group!r} must be an object of field: value", item=str(group))
            items += [(str(group), str(name), value) for name, value in fields.items()]
        return items
    items = []
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise BadInputError(f"--set expects group.field=value, got {item!r}")
        path, value = item.split("=", 1)
        group, name = path.split(".", 1)
        items.append((group, name, _parse_value(value)))
    return items


def apply_overrides(config: OVDiffConfig, overrides: Mapping[str, Any] | Sequence[str] | None) -> OVDiffConfig:
    """The one way settings change: ``["group.field=value", ...]`` (CLI ``--set``; values parsed as JSON when
    they parse, else strings) or ``{"group": {"field": value}}`` (API, dashboard). Unknown settings raise
    ``BadInputError`` naming them, so a typo never silently runs the paper's default."""
    data = config.to_dict()
    unknown_groups = sorted(set(overrides) - set(data)) if isinstance(overrides, Mapping) else []
    if unknown_groups:
        raise BadInputError(f"unknown setting group(s): {', '.join(map(str, unknown_groups))}")
    for group, name, value in _override_items(overrides or []):
        if group not in data or name not in data[group]:
            raise BadInputError(f"unknown setting {group}.{name}")
        data[group][name] = value
    return OVDiffConfig.from_dict(data)


# settings added after artifacts were keyed: left out of a key while at their default, so configurations that do
# not use them keep their keys (``key_part``)
ADDED_SETTINGS: dict[str, tuple[str, ...]] = {
    "FeatureConfig": ("resize_antialias",),
    "MaskConfig": ("zero_score_pixels", "user_fg_vocab_weight", "user_fg_vocab_conflict"),
}


def key_part(settings: Any) -> dict[str, Any]:
    """A settings group as ``stable_hash`` encodes a dataclass, without the ``ADDED_SETTINGS`` still at their
    default: hashing it equals hashing the group itself as it was before those settings existed."""
    added = ADDED_SETTINGS.get(type(settings).__name__, ())
    default = type(settings)()
    data = {k: v for k, v in dataclasses.asdict(settings).items()
            if not (k in added and v == getattr(default, k))}
    return {"__type__": type(settings).__name__, **data}


def stable_hash(*parts: Any) -> str:
    """sha256 of a canonical JSON encoding; dataclasses are encoded as dicts."""

    def enc(o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {"__type__": type(o).__name__, **{k: enc(v) for k, v in dataclasses.asdict(o).items()}}
        if isinstance(o, (list, tuple)):
            return [enc(x) for x in o]
        if isinstance(o, dict):
            return {str(k): enc(v) for k, v in o.items()}
        return o

    blob = json.dumps([enc(p) for p in parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
