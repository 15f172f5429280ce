"""The OVDiff facade: class text -> support set -> fg/bg masks -> prototype banks -> segmenter.

Every artifact is content-addressed (``engine.storage.store``): its key hashes everything that determines it, so a
second request for the same class is a cache hit and a re-delivered task is safe. Models load lazily through
the ``ModelRegistry`` and are reused for the lifetime of this object.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from engine.config import FeatureConfig, OVDiffConfig, key_part, stable_hash
from engine.errors import BadInputError, CancelledError
from engine.models.registry import ModelRegistry
from engine.profiles import default_config
from engine.runtime import prefilter_dtype_name, windows_per_batch
from engine.storage.object_store import open_store
from engine.storage.store import ArtifactStore
from engine.support.curation import curate, kept_images
from engine.support.io import folder_content_hash, load_support_set, load_user_support_folder, save_support_set
from engine.types import CancelFn, ClassSpec, Curation, PrototypeBank, ProgressFn, Segmentation, SupportSet

if TYPE_CHECKING:  # torch and the model libraries load only when a model is needed (cached calls stay instant)
    import torch

# Bump when a stage's code changes what it produces: old artifacts then miss the cache instead of being reused.
STAGE_VERSION = {"support": 1, "bank": 1, "curated": 1, "vocab-masks": 1}
SUPPORT, BANK, VOCAB_MASKS = "support", "bank", "vocab-masks"


class OVDiff:
    """Builds and caches support sets and banks, and segments images against a vocabulary."""

    def __init__(self, config: OVDiffConfig, registry: ModelRegistry, store: ArtifactStore) -> None:
        self.config = config
        self.registry = registry
        self.store = store
        self._segmenters: dict[tuple[ClassSpec, ...], object] = {}
        self._choices: dict[tuple[ClassSpec, ...], dict[str, dict[str, str]]] = {}  # the last vocabulary's
        self._scorer: object | None = None

    # ---- keys ---------------------------------------------------------------------------------------------
    def support_key(self, cls: ClassSpec) -> str:
        """Key of a class's support set with its masks (cheap: no model is loaded). A curated class hashes the
        keys of the sets it merges and the person's decisions: the same review is never built twice, and a class
        nobody reviewed keeps its key (a cache hit)."""
        _check_class(cls)
        if cls.curation is not None and not cls.curation.is_empty:
            cur = cls.curation
            base, *dirs = self._source_specs(cls)
            sources = ([self.support_key(base)] + [self._with_seed(seed).support_key(base) for seed in cur.extra_seeds]
                       + [self.support_key(spec) for spec in dirs])
            return stable_hash("curated", STAGE_VERSION["curated"], sources, cur.excluded, cur.masks)
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
        stuff_rule = (cls.is_stuff,) if cfg.masks.user_fg_rule == "border" else ()  # the rule reads thing/stuff
        return stable_hash(SUPPORT, STAGE_VERSION[SUPPORT], origin, key_part(cfg.masks), mask_models, mask_layer,
                           cfg.features.dino_facet, *stuff_rule)

    def bank_keys(self, cls: ClassSpec) -> dict[str, str]:
        """extractor -> key of its prototype bank for ``cls``."""
        skey = self.support_key(cls)
        cfg = self.config
        return {
            e: stable_hash(BANK, STAGE_VERSION[BANK], skey, e, self.registry.extractor_identity(e),
                           key_part(cfg.features), cfg.prototypes)
            for e in cfg.features.extractors
        }

    def cached_bank_dirs(self, cls: ClassSpec) -> dict[str, Path] | None:
        """extractor -> store directory of each bank of ``cls`` when all are cached (else None); loads nothing."""
        keys = self.bank_keys(cls)
        if not all(self.store.exists(BANK, k) for k in keys.values()):
            return None
        return {e: self.store.path(BANK, k) for e, k in keys.items()}

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
        if cls.curation is not None and not cls.curation.is_empty:
            return self._curated_support_set(cls, key, progress, cancel)
        from engine.masks.fgbg import apply_masks
        from engine.support.sampling import sample_support_images, support_prompt

        if cls.user_support_dir:
            support = load_user_support_folder(cls.user_support_dir, cls.name, cls.prompt)
        else:
            images = sample_support_images(self.registry, cls.text, self.config.support, progress, cancel)
            support = SupportSet(class_name=cls.name, prompt=support_prompt(cls.text, self.config.support),
                                 source="generated", images=images)
        if cancel is not None and cancel():
            raise CancelledError(f"support set of {cls.name!r} cancelled")
        support = apply_masks(support, self._proposer(), self.config.masks, stuff=cls.is_stuff)
        support.key = key
        with self.store.writing(SUPPORT, key) as tmp:
            save_support_set(support, tmp)
        if progress:
            progress("masks", len(support.images), len(support.images))
        return support

    def _source_specs(self, cls: ClassSpec) -> list[ClassSpec]:
        """The uncurated classes whose support sets a curated class merges: its own set, then added folders."""
        base = replace(cls, curation=None)
        return [base] + [replace(base, user_support_dir=d) for d in cls.curation.extra_dirs]  # type: ignore[union-attr]

    def _with_seed(self, seed: int) -> "OVDiff":
        """This pipeline sampling with another generator seed (same models, same store)."""
        return OVDiff(replace(self.config, support=replace(self.config.support, seed=seed)), self.registry,
                      self.store)

    def _source_sets(self, cls: ClassSpec, progress: ProgressFn | None, cancel: CancelFn | None) -> list[SupportSet]:
        base, *dirs = self._source_specs(cls)
        sets = [self.support_set(base, progress, cancel)]
        sets += [self._with_seed(seed).support_set(base, progress, cancel)
                 for seed in cls.curation.extra_seeds]  # type: ignore[union-attr]
        return sets + [self.support_set(spec, progress, cancel) for spec in dirs]

    def _curated_support_set(self, cls: ClassSpec, key: str, progress: ProgressFn | None,
                             cancel: CancelFn | None) -> SupportSet:
        """Merge the source sets (each cached under its own key) and apply the person's decisions."""
        support = curate(self._source_sets(cls, progress, cancel), cls.curation, self.config.masks)  # type: ignore[arg-type]
        support.key = key
        with self.store.writing(SUPPORT, key) as tmp:
            save_support_set(support, tmp)
        return support

    def _proposer(self):  # noqa: ANN202 - a Proposer callable or None
        from engine.masks.proposer import build_proposer

        cfg = self.config.masks
        if cfg.proposer == "maskcut" and cfg.use_instance_masks:
            return build_proposer(cfg, self.registry.maskcut_extractor(cfg, self.config.features),
                                  device=str(self.registry.device))
        return build_proposer(cfg, None, device=str(self.registry.device))

    # ---- banks --------------------------------------------------------------------------------------------
    def banks(self, cls: ClassSpec, progress: ProgressFn | None = None,
              cancel: CancelFn | None = None) -> dict[str, PrototypeBank]:
        """One prototype bank per extractor; only the missing ones are built (and the support set only then)."""
        from engine.prototypes.banks import load_bank

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
        import torch

        from engine.prototypes.banks import BankBuilder, save_bank

        extractor = self.registry.extractor(ename, support_feature_config(self.config, ename))
        builder = BankBuilder(cls.name, ename, self.config.prototypes)
        batch = max(1, self.config.support.batch_size)
        kept = kept_images(support)  # a person's exclusions never reach a bank
        if not kept:
            raise BadInputError(f"every support image of {cls.name!r} is excluded; keep at least one", cls.name)
        for start in range(0, len(kept), batch):
            if cancel is not None and cancel():
                raise CancelledError(f"prototype bank of {cls.name!r} cancelled")
            chunk = kept[start:start + batch]
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
        from engine.features.text_cache import CachedClipScorer
        from engine.segment.prefilter import CategoryPrefilter
        from engine.segment.segmenter import Segmenter

        vocab = tuple(classes)
        if vocab in self._segmenters:
            return self._segmenters[vocab]
        specs = self.vocabulary_specs(vocab, progress, cancel)
        banks: Mapping[str, Mapping[str, PrototypeBank]] = {
            c.name: self.banks(spec, progress, cancel) for c, spec in zip(vocab, specs)}
        extractors = {e: self.registry.extractor(e, self.config.features) for e in self.config.features.extractors}
        prefilter = None
        if self.config.segment.category_prefilter:
            if self._scorer is None:  # text embeddings by prompt, kept across vocabularies and in the store
                antialias = self.config.segment.prefilter_image_prep != "code"  # "code": the authors' resize
                precision = prefilter_dtype_name(self.config.segment.prefilter_clip_dtype, self.registry.runtime,
                                                 self.registry.device_name)
                self._scorer = CachedClipScorer(self.registry, self.store, antialias=antialias, precision=precision)
            prefilter = CategoryPrefilter(self._scorer, self.config.segment)
        segment_cfg = replace(self.config.segment, window_batch_size=windows_per_batch(
            self.registry.runtime, self.config.segment.window_batch_size, self.registry.device_name))
        seg = Segmenter(segment_cfg, extractors, banks, list(vocab), prefilter, device=self.registry.device)
        self._segmenters = {vocab: seg}  # keep one: a vocabulary's prototypes can be large
        return seg

    def vocabulary_choices(self, classes: Sequence[ClassSpec], progress: ProgressFn | None = None,
                           cancel: CancelFn | None = None) -> dict[str, dict[str, str]]:
        """Under ``masks.user_fg_rule="vocabulary"``: class name -> {support image id: "candidate:K"} for each user
        image whose proposed mask is better chosen with the other classes in view (``engine.masks.vocabulary``)
        than seen alone; cached in the store by the classes' support keys (and here for the last vocabulary, as
        ``segmenter`` keeps its segmenter: a worker asks once per shard). Empty under any other rule."""
        vocab = tuple(classes)
        if self.config.masks.user_fg_rule != "vocabulary" or not vocab:
            return {}
        if vocab in self._choices:
            return self._choices[vocab]
        ename = "dino" if "dino" in self.config.features.extractors else self.config.features.extractors[0]
        # the support keys hash the mask settings (weight and conflict included); the features are the banks'
        key = stable_hash(VOCAB_MASKS, STAGE_VERSION[VOCAB_MASKS], [self.support_key(c) for c in vocab], ename,
                          self.registry.extractor_identity(ename), key_part(support_feature_config(self.config, ename)))
        if self.store.exists(VOCAB_MASKS, key):
            choices = json.loads((self.store.path(VOCAB_MASKS, key) / "choices.json").read_text())
        else:
            choices = self._choose_vocabulary_masks(vocab, ename, progress, cancel)
            with self.store.writing(VOCAB_MASKS, key) as tmp:
                (tmp / "choices.json").write_text(json.dumps(choices, sort_keys=True))
        self._choices = {vocab: choices}
        return choices

    def vocabulary_specs(self, classes: Sequence[ClassSpec], progress: ProgressFn | None = None,
                         cancel: CancelFn | None = None) -> tuple[ClassSpec, ...]:
        """The classes as their banks are built for this vocabulary: ``vocabulary_choices`` as "candidate:K"
        curation entries (a person's own mask choices win). The classes as given under any other rule."""
        vocab = tuple(classes)
        choices = self.vocabulary_choices(vocab, progress, cancel)
        out = []
        for cls in vocab:
            auto = choices.get(cls.name) or {}
            if not auto:
                out.append(cls)
                continue
            cur = cls.curation or Curation()
            masks = {**auto, **dict(cur.masks)}  # a person's choice wins
            out.append(replace(cls, curation=replace(cur, masks=tuple(sorted(masks.items())))))
        return tuple(out)

    def _choose_vocabulary_masks(self, vocab: tuple[ClassSpec, ...], ename: str, progress: ProgressFn | None,
                                 cancel: CancelFn | None) -> dict[str, dict[str, str]]:
        """class name -> {image id: "candidate:K"} where the joint choice differs from the image's own rule."""
        import torch

        from engine.masks.fgbg import default_candidate, user_candidates
        from engine.masks.vocabulary import Item, choose_candidates
        from engine.support.curation import CANDIDATE, image_id

        images = [(cls.name, im) for cls in vocab for im in kept_images(self.support_set(cls, progress, cancel))]
        free = [(name, im) if im.instance_masks and not im.mask_choice and im.attribution is None else None
                for name, im in images]
        if len(images) < 2 or not any(free):  # nothing to choose (masks given or chosen): no forward
            return {}
        extractor = self.registry.extractor(ename, support_feature_config(self.config, ename))
        items = []
        for (name, im), entry in zip(images, free):
            if cancel is not None and cancel():
                raise CancelledError(f"mask choice of {name!r} cancelled")
            with torch.inference_mode():
                feats = extractor(_to_batch([im.image], self.registry.device))[0].float().cpu()
            candidates = user_candidates(im.instance_masks) if entry else [np.asarray(im.fg_mask, dtype=bool)]
            items.append(Item(name, candidates, feats))
        choices: dict[str, dict[str, str]] = {}
        masks_cfg = self.config.masks
        chosen = choose_candidates(items, masks_cfg.user_fg_vocab_weight, masks_cfg.user_fg_vocab_conflict)
        for k, entry in zip(chosen, free):
            if entry is not None and k != default_candidate(entry[1].instance_masks, masks_cfg):
                choices.setdefault(entry[0], {})[image_id(entry[1].image)] = f"{CANDIDATE}{k}"
        return choices

    def segment(self, image: np.ndarray, classes: Sequence[ClassSpec], explain: bool = False,
                return_scores: bool = False) -> Segmentation:
        import torch

        with torch.inference_mode():
            return self.segmenter(classes)(image, explain=explain, return_scores=return_scores)


def support_feature_config(cfg: OVDiffConfig, extractor: str) -> FeatureConfig:
    """Feature settings for support images: with ``clip_support_native`` CLIP sees them at their own size
    (512 px -> 32x32 patches, as the authors' ``gen_vit_features.py:84,139``) instead of squashed to 448."""
    if extractor == "clip" and cfg.features.clip_support_native:
        return replace(cfg.features, clip_input_size=cfg.support.image_size)
    return cfg.features


def chunk_images(chunk: Sequence) -> list[np.ndarray]:
    return [im.image for im in chunk]


def _to_batch(images: list[np.ndarray], device: "torch.device") -> "torch.Tensor":
    """Stack uint8 HxWx3 images (resized to the first one's size if they differ) as (B, 3, H, W) in [0, 1]."""
    import torch

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


def build_ovdiff(profile: str, store_dir: Path | str, config: OVDiffConfig | None = None,
                 sources: dict[str, str] | None = None, device: str = "cpu") -> OVDiff:
    """Convenience constructor used by the CLI, the service and the benchmarks."""
    config = config or default_config(profile)
    return OVDiff(config, ModelRegistry(profile, sources, device=device, runtime=config.runtime),
                  open_store(str(store_dir)))
