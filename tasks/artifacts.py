"""gpu task: support set + masks + prototype banks for ONE class of a run, and the PNGs the dashboard shows.

Idempotent: the engine's store is content-addressed (a re-delivered task is a cache hit) and rows are
``get_or_create``/``update_or_create`` by key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from celery import shared_task
from django.conf import settings

from tasks.base import EngineTask, RunTask, cancel_checker, deadline_checker, fault_progress, load_active_run, run_guard


@shared_task(bind=True, base=RunTask, name="tasks.artifacts.build_class_artifacts")
def build_class_artifacts(self: RunTask, run_id: int, class_index: int) -> dict[str, Any]:
    """Build (or find) the artifacts of class ``class_index`` of the run's vocabulary snapshot."""
    from ovdiff_web.core.services import run_state

    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    spec = run.class_specs()[class_index]
    with run_guard(run_id, "support"):
        run_state.stage_start(run_id, "support")
        ovd = self.ovdiff(run.profile, run.settings)
        cancel = cancel_checker(run_id)
        support = ovd.support_set(spec, progress=fault_progress, cancel=cancel)  # cached once written
        run_state.stage_start(run_id, "banks")
        banks = ovd.banks(spec, progress=fault_progress, cancel=cancel)
        record_artifacts(run.profile, support, banks)
        run_state.stage_advance(run_id, "support")
        run_state.stage_advance(run_id, "banks")
        return {"class": spec.name, "support_key": support.key, "banks": {k: b.key for k, b in banks.items()}}
    return {"class": spec.name, "cancelled": True}


def record_artifacts(profile: str, support: Any, banks: dict[str, Any]) -> Any:
    """Rows for a support set, its images (PNG files under MEDIA_ROOT) and its banks; safe to repeat."""
    from ovdiff_web.core.models import ArtifactStatus, PrototypeBank, SupportImage, SupportSet

    row, _ = SupportSet.objects.get_or_create(key=support.key, defaults={
        "class_name": support.class_name, "prompt": support.prompt, "profile": profile, "source": support.source,
        "store_path": f"support/{support.key[:2]}/{support.key}", "n_images": len(support.images)})
    rel_dir = Path("support") / support.key[:2] / support.key
    for image in support.images:
        paths = write_support_pngs(rel_dir, image)
        SupportImage.objects.update_or_create(support_set=row, index=image.index, defaults={
            "seed": image.seed, "prompt": image.prompt or "", **paths})
    SupportSet.objects.filter(pk=row.pk).update(status=ArtifactStatus.READY, n_images=len(support.images))
    for extractor, bank in banks.items():
        PrototypeBank.objects.update_or_create(key=bank.key, defaults={
            "support_set": row, "extractor": extractor, "fg_count": int(bank.fg.shape[0]),
            "bg_count": int(bank.bg.shape[0]), "store_path": f"bank/{bank.key[:2]}/{bank.key}"})
    return row


def write_support_pngs(rel_dir: Path, image: Any) -> dict[str, str]:
    """image / attribution / fg / bg / overlay PNGs (atomic writes, skipped when already present)."""
    from PIL import Image

    out: dict[str, str] = {}
    arrays: dict[str, np.ndarray | None] = {
        "image": image.image,
        "attribution": None if image.attribution is None else (np.clip(image.attribution, 0, 1) * 255).astype(np.uint8),
        "fg_mask": None if image.fg_mask is None else image.fg_mask.astype(np.uint8) * 255,
        "bg_mask": None if image.bg_mask is None else image.bg_mask.astype(np.uint8) * 255,
    }
    if image.fg_mask is not None:
        tint = image.image.astype(np.float32).copy()
        tint[image.fg_mask] = 0.5 * tint[image.fg_mask] + 0.5 * np.array([255, 64, 64], dtype=np.float32)
        if image.bg_mask is not None:
            tint[image.bg_mask] = 0.6 * tint[image.bg_mask] + 0.4 * np.array([64, 64, 255], dtype=np.float32)
        arrays["overlay"] = tint.clip(0, 255).astype(np.uint8)
    for field, array in arrays.items():
        if array is None:
            out[field] = ""
            continue
        rel = rel_dir / f"{image.index:04d}_{field}.png"
        target = Path(settings.MEDIA_ROOT) / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            Image.fromarray(array).save(tmp, format="PNG")
            tmp.replace(target)
        out[field] = rel.as_posix()
    return out


@shared_task(bind=True, base=EngineTask, name="tasks.artifacts.regenerate_class", acks_late=False)
def regenerate_class(self: EngineTask, class_id: int, profile: str, settings_dict: dict[str, Any]) -> dict[str, Any]:
    """Build one vocabulary class's artifacts outside any run (the ``regenerate`` API action)."""
    from ovdiff_web.core.models import VocabularyClass

    cls = VocabularyClass.objects.get(pk=class_id)
    spec = cls.to_spec()
    ovd = self.ovdiff(profile, settings_dict)
    cancel = deadline_checker()  # bounded: a rebuild never holds a worker past OVDIFF_TASK_TIME_LIMIT_S
    banks = ovd.banks(spec, cancel=cancel)
    support = ovd.support_set(spec, cancel=cancel)
    record_artifacts(profile, support, banks)
    return {"class": spec.name, "support_key": support.key}
