"""The OVDiff facade: class text -> support set -> fg/bg masks -> prototype banks -> segmenter.

Every artifact is content-addressed (``engine.store``): its key hashes everything that determines it, so a
second request for the same class is a cache hit and a re-delivered task is safe. Models load lazily through
the ``ModelRegistry`` and are reused for the lifetime of this object.
"""
from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from engine.config import FeatureConfig, OVDiffConfig, stable_hash
from engine.errors import BadInputError, CancelledError
from engine.masks.fgbg import apply_masks
from engine.masks.proposer import build_proposer
from engine.models.registry import ModelRegistry
from engine.prototypes.banks import BankBuilder, load_bank, save_bank
from engine.support.sampling import sample_support_images, support_prompt
from engine.store import ArtifactStore
from engine.support.io import folder_content_hash, load_support_set, load_user_support_folder, save_support_set
from engine.types import CancelFn, ClassSpec, PrototypeBank, ProgressFn, Segmentation, SupportSet

# Bump when a stage's code changes what it produces: old artifacts then miss the cache instead of being reused.
STAGE_VERSION = {"support": 1, "bank": 1}
SUPPORT, BANK = "support", "bank"


class OVDiff:
    """Builds and caches support sets and banks, and segments images against a vocabulary."""

    def __init__(self, config: OVDiffConfig, registry: ModelRegistry, store: ArtifactStore) -> None:
        self.config = config
        self.registry = registry
        self.store = store
        self._segmenters: dict[tuple[ClassSpec, ...], object] = {}

    # ---- keys ---------------------------------------------------------------------------------------------
    def support_key(self, cls: ClassSpec) -> str:
        """Key of a class's support set with its masks (cheap: no model is loaded)."""
        _check_class(cls)
        cfg = self.config
        if cls.user_support_dir:
            origin = ("user", folder_content_hash(cls.user_support_dir))
        else:
            origin = ("generated", self.registry.identity("generator"), cls.text.strip(), cfg.support)
        mask_models = self.registry.identity("maskcut") if cfg.masks.proposer == "maskcut" else ""
        if cfg.masks.proposer == "cutler" and cfg.masks.use_instance_masks:
            from engine.masks.cutler import cutler_weights_identity

            mask_models = cutler_weights_identity()
        mask_layer = cfg.features.dino_layer if cfg.masks.maskcut_layer is None else cfg.masks.maskcut_layer
        return stable_hash(SUPPORT, STAGE_VERSION[SUPPORT], origin, cfg.masks, mask_models, mask_layer,
                           cfg.features.dino_facet)

    def bank_keys(self, cls: ClassSpec) -> dict[str, str]:
        """extractor -> key of its prototype bank for ``cls``."""
        skey = self.support_key(cls)
        cfg = self.config
        return {
            e: stable_hash(BANK, STAGE_VERSION[BANK], skey, e, self.registry.extractor_identity(e), cfg.features,
                           cfg.prototypes)
            for e in cfg.features.extractors
        }

    def is_cached(self, cls: ClassSpec) -> bool:
        """True when every bank of ``cls`` is in the store: nothing would be recomputed."""
        return all(self.store.exists(BANK, k) for k in self.bank_keys(cls).values())

    # ---- support sets -------------------------------------------------------------------------------------
    def support_set(self, cls: ClassSpec, progress: ProgressFn | None = None,
                    cancel: CancelFn | None = None) -> SupportSet:
        """The class's support set with fg/bg masks: loaded when cached, else sampled (or read) and stored."""
        key = self.support_key(cls)
        if self.store.exists(SUPPORT, key):
            support = load_support_set(self.store.path(SUPPORT, key))
            support.key = key
            return support
        if cls.user_support_dir:
            support = load_user_support_folder(cls.user_support_dir, cls.name, cls.prompt)
        else:
            images = sample_support_images(self.registry, cls.text, self.config.support, progress, cancel)
            support = SupportSet(class_name=cls.name, prompt=support_prompt(cls.text, self.config.support),
                                 source="generated", images=images)
        if cancel is not None and cancel():
            raise CancelledError(f"support set of {cls.name!r} cancelled")
        support = apply_masks(support, self._proposer(), self.config.masks)
        support.key = key
        with self.store.writing(SUPPORT, key) as tmp:
            save_support_set(support, tmp)
        if progress:
            progress("masks", len(support.images), len(support.images))
        return support

    def _proposer(self):  # noqa: ANN202 - a Proposer callable or None
        cfg = self.config.masks
        if cfg.proposer == "maskcut" and cfg.use_instance_masks:
            return build_proposer(cfg, self.registry.maskcut_extractor(cfg, self.config.features),
                                  device=str(self.registry.device))
        return build_proposer(cfg, None, device=str(self.registry.device))

    # ---- banks --------------------------------------------------------------------------------------------
    def banks(self, cls: ClassSpec, progress: ProgressFn | None = None,
              cancel: CancelFn | None = None) -> dict[str, PrototypeBank]:
        """One prototype bank per extractor; only the missing ones are built (and the support set only then)."""
        keys = self.bank_keys(cls)
        out: dict[str, PrototypeBank] = {}
        missing = []
        for ename, key in keys.items():
            if self.store.exists(BANK, key):
                out[ename] = load_bank(self.store.path(BANK, key))
            else:
                missing.append(ename)
        if not missing:
            return out
        support = self.support_set(cls, progress, cancel)
        for n, ename in enumerate(missing):
            out[ename] = self._build_bank(cls, ename, keys[ename], support, cancel)
            if progress:
                progress("banks", n + 1, len(missing))
        return {e: out[e] for e in keys}

    def _build_bank(self, cls: ClassSpec, ename: str, key: str, support: SupportSet,
                    cancel: CancelFn | None) -> PrototypeBank:
        extractor = self.registry.extractor(ename, support_feature_config(self.config, ename))
        builder = BankBuilder(cls.name, ename, self.config.prototypes)
        batch = max(1, self.config.support.batch_size)
        for start in range(0, len(support.images), batch):
            if cancel is not None and cancel():
                raise CancelledError(f"prototype bank of {cls.name!r} cancelled")
            chunk = support.images[start:start + batch]
            with torch.inference_mode():
                feats = extractor(_to_batch(chunk_images(chunk), self.registry.device))
            builder.add(feats, [im.fg_mask for im in chunk], [im.bg_mask for im in chunk],
                        [im.index for im in chunk])
        bank = builder.build(key=key, support_key=support.key)
        with self.store.writing(BANK, key) as tmp:
            save_bank(bank, tmp)
        return bank

    # ---- segmentation -------------------------------------------------------------------------------------
    def segmenter(self, classes: Sequence[ClassSpec], progress: ProgressFn | None = None,
                  cancel: CancelFn | None = None):  # noqa: ANN201 - engine.segment.segmenter.Segmenter
        """A segmenter for ``classes`` (banks built when missing); reused for the same vocabulary."""
        from engine.features.clip_text import clip_text_image_similarity
        from engine.segment.prefilter import CategoryPrefilter
        from engine.segment.segmenter import Segmenter

        vocab = tuple(classes)
        if vocab in self._segmenters:
            return self._segmenters[vocab]
        banks: Mapping[str, Mapping[str, PrototypeBank]] = {c.name: self.banks(c, progress, cancel) for c in vocab}
        extractors = {e: self.registry.extractor(e, self.config.features) for e in self.config.features.extractors}
        prefilter = None
        if self.config.segment.category_prefilter:
            antialias = self.config.segment.prefilter_image_prep != "code"
            scorer = partial(clip_text_image_similarity, self.registry, antialias=antialias)
            prefilter = CategoryPrefilter(scorer, self.config.segment)
        seg = Segmenter(self.config.segment, extractors, banks, list(vocab), prefilter, device=self.registry.device)
        self._segmenters = {vocab: seg}  # keep one: a vocabulary's prototypes can be large
        return seg

    def segment(self, image: np.ndarray, classes: Sequence[ClassSpec], explain: bool = False,
                return_scores: bool = False) -> Segmentation:
        with torch.inference_mode():
            return self.segmenter(classes)(image, explain=explain, return_scores=return_scores)


def support_feature_config(cfg: OVDiffConfig, extractor: str) -> FeatureConfig:
    """Feature settings for support images: with ``clip_support_native`` CLIP sees them at their own size
    (512 px -> 32x32 patches, as the authors' ``gen_vit_features.py:84,139``) instead of squashed to 448."""
    if extractor == "clip" and cfg.features.clip_support_native:
        return dataclasses.replace(cfg.features, clip_input_size=cfg.support.image_size)
    return cfg.features


def chunk_images(chunk: Sequence) -> list[np.ndarray]:
    return [im.image for im in chunk]


def _to_batch(images: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """Stack uint8 HxWx3 images (resized to the first one's size if they differ) as (B, 3, H, W) in [0, 1]."""
    h, w = images[0].shape[:2]
    tensors = []
    for im in images:
        t = torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1).float().div_(255.0)
        if t.shape[1:] != (h, w):
            t = torch.nn.functional.interpolate(t[None], size=(h, w), mode="bilinear", align_corners=False)[0]
        tensors.append(t)
    return torch.stack(tensors).to(device)


def _check_class(cls: ClassSpec) -> None:
    if not cls.name or not cls.name.strip():
        raise BadInputError("a class name must not be empty", item=repr(cls.name))
    if not cls.text.strip():
        raise BadInputError("a class prompt must not be empty", item=cls.name)


def generator_dtype(config: OVDiffConfig, device: str) -> torch.dtype | None:
    """float16 for Stable Diffusion when ``sd_half_on_cuda`` and the device is CUDA (the authors' precision)."""
    return torch.float16 if config.features.sd_half_on_cuda and str(device).startswith("cuda") else None


def build_ovdiff(profile: str, store_dir: Path | str, config: OVDiffConfig | None = None,
                 sources: dict[str, str] | None = None, device: str = "cpu") -> OVDiff:
    """Convenience constructor used by the CLI, the service and the benchmarks."""
    from engine.profiles import default_config

    config = config or default_config(profile)
    registry = ModelRegistry(profile, sources, device=device, generator_dtype=generator_dtype(config, device))
    return OVDiff(config, registry, ArtifactStore(Path(store_dir)))
