"""The one place the service builds engine objects. Engine imports are lazy: the web process never loads
torch/diffusers to serve an API page, and a worker loads models only when its first task needs them."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings

from engine.config import OVDiffConfig, apply_overrides, stable_hash
from engine.models import ModelRegistry
from engine.storage.object_store import open_store
from engine.profiles import default_config
from engine.runtime import RuntimeConfig
from ovdiff_web.common import media_store
from ovdiff_web.common.errors import InputError
from ovdiff_web.common.settings_check import SettingError, check_config


def build_config(profile: str, overrides: dict[str, Any] | None = None) -> Any:
    """The profile's ``OVDiffConfig`` with user overrides (``engine.config.apply_overrides``); unknown settings
    raise BadInputError naming them, values of a wrong type or out of range ``settings_check.SettingError`` naming
    the field and what is allowed."""
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
    """The process's ``ArtifactStore`` under ``OVDIFF_STORE_DIR`` (or in the bucket of ``OVDIFF_STORE_URL``)."""
    if ENGINE_CACHE["store"] is None:
        Path(settings.OVDIFF_STORE_DIR).mkdir(parents=True, exist_ok=True)  # the store, or its local cache
        ENGINE_CACHE["store"] = open_store(settings.OVDIFF_STORE_URL or str(settings.OVDIFF_STORE_DIR),
                                           cache_root=settings.OVDIFF_STORE_DIR, **media_store.object_store_options())
    return ENGINE_CACHE["store"]


def registry(profile: str, runtime: Any = None) -> Any:
    """The process's ``ModelRegistry`` of ``profile`` and runtime settings (models load lazily, on first use)."""
    runtime = runtime or RuntimeConfig()  # None and the defaults share one registry (models load once)
    registries = ENGINE_CACHE["registries"]
    if (profile, runtime) not in registries:
        registries[(profile, runtime)] = ModelRegistry(profile, sources=model_sources() or None,
                                                       device=settings.OVDIFF_DEVICE, runtime=runtime)
    return registries[(profile, runtime)]


def ovdiff(profile: str, settings_dict: dict[str, Any] | None = None) -> Any:
    """The process's ``OVDiff`` for (profile, full settings dict; None = the profile's defaults)."""
    from engine.pipeline import OVDiff

    if settings_dict is None:
        settings_dict = build_config(profile).to_dict()
    ovdiffs = ENGINE_CACHE["ovdiffs"]
    key = stable_hash(profile, settings_dict)
    if key not in ovdiffs:
        if len(ovdiffs) >= MAX_CACHED_OVDIFFS:
            ovdiffs.pop(next(iter(ovdiffs)))
        config = OVDiffConfig.from_dict(settings_dict)
        ovdiffs[key] = OVDiff(config, registry(profile, config.runtime), store())
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


def dataset_root(dataset: Any) -> str:
    """A dataset row's folder on this machine: an upload's is fetched from object storage when only the bucket
    has it (``media_store``); a server path is the row's."""
    return media_store.local_dataset_root(dataset.root, dataset.source == "upload")


def open_run_dataset(run: Any) -> Any:
    """The engine's ``SegDataset`` a run segments (file checks were done at ingest)."""
    dataset = run.dataset
    if dataset is None:
        raise RuntimeError("the run's dataset was deleted")
    return open_dataset(dataset.format, dataset_root(dataset), dataset.split, dataset.protocol, check_files=False)


def checked_config(profile: str, overrides: dict[str, Any] | None) -> Any:
    """``build_config`` for a request: refused settings raise ``InputError`` naming the setting (a 400)."""
    try:
        return build_config(profile, overrides)
    except SettingError as exc:
        raise InputError(exc.message, field=exc.field) from None
    except (ValueError, TypeError) as exc:  # the engine's own check (unknown setting, wrong choice)
        text = str(exc).removeprefix("settings: ")
        named = re.search(r"\b([a-z]+\.[a-z_]+)\b", text)
        raise InputError(text, field=f"settings.{named.group(1)}" if named else "settings") from None
