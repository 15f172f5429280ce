"""The one place the service builds engine objects. Engine imports are lazy: the web process never loads
torch/diffusers to serve an API page, and a worker loads models only when its first task needs them."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from django.conf import settings


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with nested ``overrides`` applied (dicts merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def build_config(profile: str, overrides: dict[str, Any] | None = None) -> Any:
    """The profile's ``OVDiffConfig`` with user overrides; unknown keys raise ValueError naming them."""
    from engine.config import OVDiffConfig
    from engine.profiles import default_config

    base = default_config(profile).to_dict()
    return OVDiffConfig.from_dict(deep_merge(base, overrides or {}))


def model_sources() -> dict[str, str]:
    """Per-role model ids / local directories from the settings (empty = profile default)."""
    sources = {"generator": settings.OVDIFF_GENERATOR, "dino": settings.OVDIFF_DINO, "clip": settings.OVDIFF_CLIP}
    return {role: value for role, value in sources.items() if value}


def make_registry(profile: str) -> Any:
    from engine.models import ModelRegistry

    return ModelRegistry(profile, sources=model_sources() or None, device=settings.OVDIFF_DEVICE)


def make_store() -> Any:
    from engine.store import ArtifactStore

    Path(settings.OVDIFF_STORE_DIR).mkdir(parents=True, exist_ok=True)
    return ArtifactStore(settings.OVDIFF_STORE_DIR)


def make_ovdiff(config: Any, registry: Any, store: Any) -> Any:
    from engine.pipeline import OVDiff

    return OVDiff(config, registry, store)


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
