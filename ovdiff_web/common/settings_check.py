"""Type and range checks of a run's or a regeneration's settings, made when the request arrives (a 400 naming
the field and what is allowed), never in the worker minutes later.

Types come from the engine's config dataclasses; ranges are the service's bounds on the work one request may
ask for (``RANGES``; every numeric setting has one, a test checks that). Caps that operators tune are settings
(``OVDIFF_MAX_SUPPORT_IMAGES``)."""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from django.conf import settings
from ovdiff_web.common.errors import ServiceError

U32 = 2**32 - 1
# "group.field" -> (min, max); None = read from a Django setting at call time (see ``_bounds``).
RANGES: dict[str, tuple[float, float] | None] = {
    "support.n_images": None, "support.batch_size": (1, 64), "support.seed": (0, U32),
    "support.num_inference_steps": (1, 200), "support.guidance_scale": (0, 50), "support.image_size": (32, 1024),
    "support.attribution_size": (8, 512),
    "masks.maskcut_tau": (0, 1), "masks.maskcut_n": (1, 10), "masks.maskcut_resize": (32, 1024),
    "masks.maskcut_iou_drop": (0, 1), "masks.maskcut_min_area": (0, 1), "masks.cutler_confidence": (0, 1),
    "masks.fg_threshold": (0, 1), "masks.bg_threshold": (0, 1), "masks.bg_erosion_iterations": (0, 20),
    "masks.maskcut_layer": (-64, 63), "masks.user_fg_max_border": (0, 1), "masks.user_fg_vocab_weight": (0, 100),
    "masks.user_fg_vocab_conflict": (0, 0.99),
    "features.sd_timestep": (0, 999), "features.sd_feature_size": (8, 128), "features.sd_input_size": (32, 1024),
    "features.sd_noise_seed": (0, U32), "features.dino_max_side": (0, 4096),
    "features.dino_layer": (-64, 63), "features.clip_layer": (-64, 63), "features.clip_input_size": (32, 1024),
    "prototypes.kmeans_k": (1, 256), "prototypes.kmeans_max_iter": (1, 1000), "prototypes.kmeans_tol": (0, 1),
    "prototypes.kmeans_seed": (0, U32), "prototypes.parts_patches_per_part": (1, 1_000_000),
    "segment.short_side": (32, 2048), "segment.window_sizes": (32, 2048), "segment.window_stride": (8, 2048),
    "segment.window_batch_size": (1, 64), "segment.background_threshold": (-1, 1),
    "segment.prefilter_max_classes": (1, 1000), "segment.deselected_score": (-10, 10),
    "segment.stuff_filter_threshold": (0, 1), "segment.pamr_iterations": (0, 100), "segment.pamr_dilations": (1, 64),
    "segment.max_image_pixels": (1, 100_000_000), "segment.prototype_chunk": (1, 65536),
    "segment.stuff_filter_min_prototypes": (1, 1024), "runtime.onnx_threads": (0, 256),
    # the support review's thresholds (engine.config.ReviewConfig; Django settings OVDIFF_REVIEW_*, not per request)
    "review.min_fg_fraction": (0, 1), "review.max_fg_fraction": (0, 1), "review.max_border_share": (0, 1),
    "review.min_attribution_iou": (0, 1), "review.hash_size": (2, 32), "review.duplicate_max_bits": (0, 1024),
}
TEMPLATES = ("support.prompt_template", "segment.prefilter_prompt")
MAX_TEXT = 500
MAX_ITEMS = 32


class SettingError(ServiceError, ValueError):
    """One setting is unusable; ``field`` is its dotted name (``settings.support.n_images``)."""

    code = "invalid_setting"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _bounds(key: str) -> tuple[float, float]:
    bounds = RANGES.get(key, (-math.inf, math.inf))  # a new engine setting without a range: type-checked only
    # (test_every_numeric_setting_has_a_range fails until it gets one)
    if bounds is None:  # support.n_images: one request may not ask for more images than the operator allows
        return (1, settings.OVDIFF_MAX_SUPPORT_IMAGES)
    return bounds


def check_config(config: Any) -> None:
    """SettingError for the first setting of ``config`` (an ``OVDiffConfig``) of a wrong type or out of range."""
    for group in dataclasses.fields(config):
        check_section(group.name, getattr(config, group.name))


def check_section(group: str, section: Any) -> None:
    """SettingError for the first field of one settings dataclass (named ``group`` in ``RANGES``) of a wrong type
    or out of range."""
    hints = typing.get_type_hints(type(section))
    for f in dataclasses.fields(section):
        _check_value(f"{group}.{f.name}", getattr(section, f.name), hints[f.name])


def _check_value(key: str, value: Any, hint: Any) -> None:
    name = f"settings.{key}"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:  # optional: None = the engine's default
        if value is not None:
            _check_value(key, value, next(a for a in args if a is not type(None)))
        return
    if origin is typing.Literal:
        if value not in args:
            raise SettingError(name, f"must be one of {', '.join(map(repr, args))}; got {_show(value)}")
        return
    if origin is tuple:
        if not isinstance(value, (tuple, list)) or not 0 < len(value) <= MAX_ITEMS:
            raise SettingError(name, f"must be a non-empty list of at most {MAX_ITEMS} items; got {_show(value)}")
        for item in value:
            _check_value(key, item, args[0])
        if key == "features.extractors" and len(set(value)) != len(value):
            raise SettingError(name, "lists an extractor twice")
        return
    if hint is bool:
        if not isinstance(value, bool):
            raise SettingError(name, f"must be true or false; got {_show(value)}")
        return
    if hint is str:
        _check_text(name, key, value)
        return
    if hint in (int, float):
        ok = isinstance(value, int) and not isinstance(value, bool) or (
            hint is float and isinstance(value, float) and math.isfinite(value))
        low, high = _bounds(key)
        kind = "an integer" if hint is int else "a number"
        if not ok or not low <= value <= high:
            raise SettingError(name, f"must be {kind} from {_num(low)} to {_num(high)}; got {_show(value)}")
        return
    raise SettingError(name, f"unsupported setting type {hint!r}")  # a new engine type needs a check here


def _check_text(name: str, key: str, value: Any) -> None:
    if not isinstance(value, str):
        raise SettingError(name, f"must be text; got {_show(value)}")
    if len(value) > MAX_TEXT or "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise SettingError(name, f"must be at most {MAX_TEXT} characters of text without NUL or lone surrogates")
    if key in TEMPLATES:
        try:
            filled = value.format("x")
        except (IndexError, KeyError, ValueError):
            filled = None
        if value.count("{}") != 1 or filled is None:
            raise SettingError(name, "must contain exactly one {} (where the class name goes) and no other braces")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
