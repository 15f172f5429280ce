"""Rows and dashboard PNGs for a class's support set and prototype banks (what a worker records after the
engine built or found them). Idempotent: rows are ``get_or_create``/``update_or_create`` by key, files are
skipped when present and written atomically."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from engine.storage.atomic import atomic_write
from ovdiff_web.common import media_store
from ovdiff_web.support.models import ArtifactStatus, PrototypeBank, SupportImage, SupportSet
from ovdiff_web.vocabularies.models import VocabularyClass
from engine.config import ReviewConfig
from ovdiff_web.common.engine_bridge import build_config
from ovdiff_web.common.settings_check import check_section

if TYPE_CHECKING:
    import numpy as np


def is_private(spec: Any, support: Any) -> bool:
    """Whether a support set shows someone's own material: images they uploaded or a curated review. Such a set is
    readable only through a class or run that uses it; a set generated from the class text alone stays shared."""
    curation = getattr(spec, "curation", None)
    return (support.source == "user" or bool(getattr(spec, "user_support_dir", ""))
            or (curation is not None and not curation.is_empty))


def record_artifacts(profile: str, support: Any, banks: dict[str, Any], *, spec: Any,
                     class_id: int | None = None, run_id: int | None = None) -> Any:
    """Rows for a support set, its images (PNG files under MEDIA_ROOT) and its banks, linked to the class and/or
    run that used it (``spec``: the class as the engine saw it, deciding ``restricted``); safe to repeat."""
    from engine.support.curation import image_id

    private = is_private(spec, support)
    row, _ = SupportSet.objects.get_or_create(key=support.key, defaults={
        "class_name": support.class_name, "prompt": support.prompt, "profile": profile, "source": support.source,
        "store_path": f"support/{support.key[:2]}/{support.key}", "n_images": len(support.images),
        "restricted": private})
    if private and not row.restricted:
        SupportSet.objects.filter(pk=row.pk).update(restricted=True)
    if class_id and VocabularyClass.objects.filter(pk=class_id).exists():  # the class may be deleted since
        row.classes.add(class_id)
    if run_id and row.runs.model.objects.filter(pk=run_id).exists():  # the run may be deleted since
        row.runs.add(run_id)
    rel_dir = Path("support") / support.key[:2] / support.key
    review = _review(profile, support)
    for image, (image_flags, measures) in zip(support.images, review):
        paths = write_support_pngs(rel_dir, image)
        SupportImage.objects.update_or_create(support_set=row, index=image.index, defaults={
            "seed": image.seed, "prompt": image.prompt or "", **paths,
            "instances": write_instance_pngs(rel_dir, image), "content_id": image_id(image.image),
            "flags": image_flags, "measures": measures, "excluded": image.excluded or "", "mask_choice": image.mask_choice})
    SupportSet.objects.filter(pk=row.pk).update(status=ArtifactStatus.READY, n_images=len(support.images))
    for extractor, bank in banks.items():
        PrototypeBank.objects.update_or_create(key=bank.key, defaults={
            "support_set": row, "extractor": extractor, "fg_count": int(bank.fg.shape[0]),
            "bg_count": int(bank.bg.shape[0]), "store_path": f"bank/{bank.key[:2]}/{bank.key}"})
    return row


def review_config() -> ReviewConfig:
    """The review thresholds: ``ReviewConfig`` with the operator's ``OVDIFF_REVIEW_*`` settings (checked against
    ``settings_check.RANGES`` under ``review.*``; a bad one is a ``SettingError`` naming it)."""
    cfg = ReviewConfig(**getattr(settings, "OVDIFF_REVIEW", {}))
    check_section("review", cfg)
    return cfg


def _review(profile: str, support: Any) -> list[tuple[list[str], dict[str, float]]]:
    """The engine's review flags and what they read of each image (thresholds: ``review_config`` and the
    profile's fg threshold)."""
    from engine.support.review import support_review

    return support_review(support, build_config(profile).masks.fg_threshold, review_config())


def write_instance_pngs(rel_dir: Path, image: Any) -> list[str]:
    """The proposer's instance masks of one image as PNGs (atomic, skipped when present); relative paths."""
    import numpy as np
    from PIL import Image

    out = []
    for j, mask in enumerate(image.instance_masks):
        rel = rel_dir / f"{image.index:04d}_inst_{j}.png"
        target = Path(settings.MEDIA_ROOT) / rel
        if not target.exists():
            atomic_write(target, lambda tmp, m=mask: Image.fromarray(np.asarray(m, bool).astype(np.uint8) * 255)
                         .save(tmp, format="PNG"))
            media_store.publish(rel)  # the dashboard may run on another machine
        out.append(rel.as_posix())
    return out


def write_support_pngs(rel_dir: Path, image: Any) -> dict[str, str]:
    """image / attribution / fg / bg / overlay PNGs (atomic writes, skipped when already present)."""
    import numpy as np
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
            atomic_write(target, lambda tmp, a=array: Image.fromarray(a).save(tmp, format="PNG"))
            media_store.publish(rel)  # the dashboard may run on another machine
        out[field] = rel.as_posix()
    return out
