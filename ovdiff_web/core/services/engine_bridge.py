"""The one place the service builds engine objects. Engine imports are lazy: the web process never loads
torch/diffusers to serve an API page, and a worker loads models only when its first task needs them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings


def build_config(profile: str, overrides: dict[str, Any] | None = None) -> Any:
    """The profile's ``OVDiffConfig`` with user overrides (``engine.config.apply_overrides``); unknown settings
    raise BadInputError naming them, values of a wrong type or out of range ``settings_check.SettingError`` naming
    the field and what is allowed."""
    from engine.config import apply_overrides
    from engine.profiles import default_config
    from ovdiff_web.core.services.settings_check import SettingError, check_config

    if overrides is not None and not isinstance(overrides, dict):
        raise SettingError("settings", "must be an object of setting groups, e.g. {\"support\": {\"seed\": 1}}")
    for group, values in (overrides or {}).items():
        if not isinstance(values, dict):
            raise SettingError(f"settings.{group}", "must be an object of settings")
    config = apply_overrides(default_config(profile), overrides or {})
    check_config(config)
    return config


def model_sources() -> dict[str, str]:
    """Per-role model ids / local directories from the settings (empty = profile default)."""
    sources = {"generator": settings.OVDIFF_GENERATOR, "dino": settings.OVDIFF_DINO, "clip": settings.OVDIFF_CLIP}
    return {role: value for role, value in sources.items() if value}


# The one per-process cache of engine objects (worker tasks and the dashboard's segment page alike): models
# load once per process, an ``OVDiff`` keeps its banks/segmenter caches between calls. Mutated, never rebound.
ENGINE_CACHE: dict[str, Any] = {"registries": {}, "ovdiffs": {}, "store": None}
MAX_CACHED_OVDIFFS = 4  # bound memory: configs rarely vary within one process's life


def store() -> Any:
    """The process's ``ArtifactStore`` under ``OVDIFF_STORE_DIR``."""
    if ENGINE_CACHE["store"] is None:
        from engine.store import ArtifactStore

        Path(settings.OVDIFF_STORE_DIR).mkdir(parents=True, exist_ok=True)
        ENGINE_CACHE["store"] = ArtifactStore(settings.OVDIFF_STORE_DIR)
    return ENGINE_CACHE["store"]


def registry(profile: str) -> Any:
    """The process's ``ModelRegistry`` of ``profile`` (models load lazily, on first use)."""
    registries = ENGINE_CACHE["registries"]
    if profile not in registries:
        from engine.models import ModelRegistry
        from engine.pipeline import generator_dtype
        from engine.profiles import default_config

        device = settings.OVDIFF_DEVICE
        registries[profile] = ModelRegistry(profile, sources=model_sources() or None, device=device,
                                            generator_dtype=generator_dtype(default_config(profile), device))
    return registries[profile]


def ovdiff(profile: str, settings_dict: dict[str, Any] | None = None) -> Any:
    """The process's ``OVDiff`` for (profile, full settings dict; None = the profile's defaults)."""
    from engine.config import OVDiffConfig, stable_hash
    from engine.pipeline import OVDiff

    if settings_dict is None:
        settings_dict = build_config(profile).to_dict()
    ovdiffs = ENGINE_CACHE["ovdiffs"]
    key = stable_hash(profile, settings_dict)
    if key not in ovdiffs:
        if len(ovdiffs) >= MAX_CACHED_OVDIFFS:
            ovdiffs.pop(next(iter(ovdiffs)))
        ovdiffs[key] = OVDiff(OVDiffConfig.from_dict(settings_dict), registry(profile), store())
    return ovdiffs[key]


def class_is_cached(ovd: Any, store: Any, spec: Any) -> bool:
    """True when the support set and every bank of ``spec`` already exist in the store (cheap: keys only)."""
    if not store_has(store, "support", ovd.support_key(spec)):
        return False
    return all(store_has(store, "bank", key) for key in ovd.bank_keys(spec).values())


def store_has(store: Any, kind: str, key: str) -> bool:
    """``ArtifactStore.exists`` for one artifact (kind = "support" or "bank")."""
    return bool(store.exists(kind, key))


def open_dataset(fmt: str, root: str, split: str, protocol: str | None, *, check_files: bool = True) -> Any:
    """The engine's ``SegDataset`` for a dataset row's format/root/split/protocol."""
    from engine.evaluation.datasets import open_dataset as engine_open

    return engine_open(fmt, root, split=split or "val", protocol=protocol or None, check_files=check_files)


def open_run_dataset(run: Any) -> Any:
    """The engine's ``SegDataset`` a run segments (file checks were done at ingest)."""
    dataset = run.dataset
    if dataset is None:
        raise RuntimeError("the run's dataset was deleted")
    return open_dataset(dataset.format, dataset.root, dataset.split, dataset.protocol, check_files=False)
