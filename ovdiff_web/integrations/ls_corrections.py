"""Corrections flowing back from Label Studio: each submitted annotation (webhook ``ANNOTATION_CREATED`` /
``ANNOTATION_UPDATED``, or an explicit import of a Label Studio JSON export) becomes an image with a ground-truth
mask in the connection's dataset (a folder dataset: an evaluation run scores the team's own labelled images), and,
for the classes asked for, the corrected region becomes a support image with its mask in the class's curated
support set (a new curation version: who and when in the audit, excluded or kept like any other image).

Everything is checked before anything is written: an unknown task (Label Studio itself is asked), a mask of the
wrong size, a label outside the vocabulary, a replay (same annotation, same ``updated_at``) get a 4xx and change
nothing."""
from __future__ import annotations

import io
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from engine.errors import BadInputError
from ovdiff_web.integrations import core_bridge as core
from ovdiff_web.integrations import ls_client, ls_config
from ovdiff_web.integrations.models import LabelStudioAnnotation, LabelStudioConnection

ACTIONS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
SUPPORT_MARGIN = 0.1


class CorrectionRefused(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Checked:
    """One annotation, validated: its image, its label-index mask (vocabulary order, 0 = background) and regions."""

    annotation_id: int
    task_id: int
    revision: str
    completed_by: str
    image: Any
    labels: Any
    regions: list[tuple[str, Any]]


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CorrectionRefused(f"{what} must be an integer")
    return value


def _decode_region(item: dict[str, Any], width: int, height: int, where: str) -> Any:
    import numpy as np

    value = item.get("value") if isinstance(item.get("value"), dict) else {}
    ow, oh = item.get("original_width"), item.get("original_height")
    if (ow, oh) != (width, height) and (ow is not None or oh is not None):
        raise CorrectionRefused(f"{where}: the mask is {ow}x{oh} but the task's image is {width}x{height}")
    if item.get("type") == "brushlabels":
        from label_studio_converter.brush import decode_rle

        rle = value.get("rle")
        if value.get("format") != "rle" or not isinstance(rle, list) or not rle \
                or not all(isinstance(v, int) and 0 <= v < 256 for v in rle):
            raise CorrectionRefused(f"{where}: value.rle must be a list of bytes (format 'rle')")
        declared = int.from_bytes(bytes(rle[:4]), "big") if len(rle) >= 4 else -1  # the header: values encoded
        if declared != width * height * 4:
            raise CorrectionRefused(f"{where}: the mask holds {max(declared, 0) // 4} pixels, the image "
                                    f"{width * height} ({width}x{height}): a mask of the wrong size")
        try:
            flat = np.asarray(decode_rle(rle), dtype=np.uint8)
        except (IndexError, ValueError) as exc:
            raise CorrectionRefused(f"{where}: not a Label Studio brush RLE ({exc})") from None
        if flat.size != width * height * 4:
            raise CorrectionRefused(f"{where}: the mask holds {flat.size // 4} pixels, the image {width * height} "
                                    f"({width}x{height}): a mask of the wrong size")
        return flat.reshape(height, width, 4)[:, :, 3] > 0
    points = value.get("points")
    if not isinstance(points, list) or len(points) < 3 or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p) for p in points):
        raise CorrectionRefused(f"{where}: value.points must be a list of at least 3 [x%, y%] pairs")
    from skimage.draw import polygon

    mask = np.zeros((height, width), dtype=bool)
    rows, cols = polygon([p[1] * height / 100 for p in points], [p[0] * width / 100 for p in points],
                         shape=(height, width))
    mask[rows, cols] = True
    return mask


def _load_image(data: bytes, where: str) -> Any:
    from engine.images import load_image

    with tempfile.NamedTemporaryFile(suffix=".img") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            return load_image(Path(tmp.name), settings.OVDIFF_PREDICT_MAX_PIXELS)
        except BadInputError as exc:
            raise CorrectionRefused(f"{where}: the task's image is unusable: {exc}", status=422) from None


def check(connection: LabelStudioConnection, task_id: Any, annotation: Any) -> Checked:
    """Validate one annotation against Label Studio's own task and the vocabulary; CorrectionRefused (4xx) else."""
    import numpy as np

    if not isinstance(annotation, dict):
        raise CorrectionRefused("'annotation' must be an object")
    annotation_id = _int(annotation.get("id"), "annotation.id")
    task_id = _int(task_id, "task.id")
    revision = str(annotation.get("updated_at") or annotation.get("created_at") or "")
    if not revision:
        raise CorrectionRefused("annotation.updated_at is required (it tells a replay from an update)")
    if LabelStudioAnnotation.objects.filter(connection=connection, annotation_id=annotation_id,
                                            revision=revision).exists():
        raise CorrectionRefused(f"annotation {annotation_id} at {revision} was already received (a replay)", 409)
    result = annotation.get("result")
    if not isinstance(result, list):
        raise CorrectionRefused("annotation.result must be a list")
    if not connection.label_config or connection.vocabulary is None:
        raise CorrectionRefused("this connection has no labelling config yet: connect it in Label Studio first",
                                409)
    config = ls_config.parse(connection.label_config)
    task = ls_client.get_task(connection, task_id)
    if task is None or not isinstance(task.get("data"), dict):
        raise CorrectionRefused(f"task {task_id} is unknown to the connected Label Studio", 404)
    url = task["data"].get(config.image_key(config.controls[0]))
    try:
        image = _load_image(ls_client.fetch_image(connection, url), f"task {task_id}")
    except ValueError as exc:
        raise CorrectionRefused(f"task {task_id}: {exc}") from None
    height, width = image.shape[:2]
    names = [c.name for c in connection.vocabulary.classes.all()]
    labels = np.zeros((height, width), dtype=np.uint8)
    regions: list[tuple[str, Any]] = []
    for n, item in enumerate(result):
        where = f"annotation {annotation_id} result[{n}]"
        if not isinstance(item, dict) or item.get("type") not in ("brushlabels", "polygonlabels"):
            continue  # other controls (choices, text...) are not masks
        value = item.get("value") if isinstance(item.get("value"), dict) else {}
        chosen = value.get(item["type"])
        if not isinstance(chosen, list) or len(chosen) != 1 or not isinstance(chosen[0], str):
            raise CorrectionRefused(f"{where}: value.{item['type']} must name exactly one label")
        if chosen[0] not in names:
            raise CorrectionRefused(f"{where}: label {chosen[0]!r} is not in the vocabulary "
                                    f"({', '.join(names)})")
        mask = _decode_region(item, width, height, where)
        labels[mask] = names.index(chosen[0]) + 1
        regions.append((chosen[0], mask))
    completed = annotation.get("completed_by")
    if isinstance(completed, dict):
        completed = completed.get("email") or completed.get("id")
    return Checked(annotation_id, task_id, revision, str(completed or "")[:200], image, labels, regions)


def _dataset(connection: LabelStudioConnection) -> Any:
    """The connection's folder dataset (created on the first correction), with every vocabulary class listed."""
    names = ["background"] + [c.name for c in connection.vocabulary.classes.all()]
    dataset = connection.dataset
    if dataset is None:
        root = Path(settings.MEDIA_ROOT) / "integrations" / "label-studio" / str(connection.pk) / "dataset"
        dataset = core.Dataset.objects.create(
            name=f"Label Studio #{connection.pk}: {connection.name} (corrections)"[:200], format="folder",
            source="server", root=str(root), split="val", created_by=connection.owner, status="ready",
            has_background=True, class_names=names, prompts=names)
        connection.dataset = dataset
        connection.save(update_fields=["dataset"])
    return dataset


def _png(array: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _support_folder(cls: Any, image: Any, mask: Any) -> str:
    """The region's crop (with a margin) and its mask as a one-image user support folder, MEDIA_ROOT-relative."""
    import numpy as np

    rows, cols = np.nonzero(mask)
    h, w = mask.shape
    my, mx = int((rows.max() - rows.min() + 1) * SUPPORT_MARGIN), int((cols.max() - cols.min() + 1) * SUPPORT_MARGIN)
    y0, y1 = max(0, rows.min() - my), min(h, rows.max() + 1 + my)
    x0, x1 = max(0, cols.min() - mx), min(w, cols.max() + 1 + mx)
    final = Path(settings.MEDIA_ROOT) / "user_support" / str(cls.pk) / uuid.uuid4().hex
    (final / "masks").mkdir(parents=True)
    (final / "000.png").write_bytes(_png(np.ascontiguousarray(image[y0:y1, x0:x1])))
    (final / "masks" / "000.png").write_bytes(_png(mask[y0:y1, x0:x1].astype(np.uint8) * 255))
    core.media_store.publish(final)
    return final.relative_to(Path(settings.MEDIA_ROOT)).as_posix()


def store(connection: LabelStudioConnection, checked: Checked, *, source: str, to_support: list[str],
          user: Any = None) -> dict[str, Any]:
    """Write one checked annotation: ground truth in the dataset, and the asked classes' regions as support."""
    dataset = _dataset(connection)
    image_id = f"task-{checked.task_id}"
    root = Path(dataset.root)
    names = list(dataset.class_names)
    vocab_names = [c.name for c in connection.vocabulary.classes.all()]
    new_names = [n for n in vocab_names if n not in names]
    names += new_names
    remap = [0] + [names.index(n) for n in vocab_names]
    import numpy as np

    gt = np.asarray(remap, dtype=np.uint8)[checked.labels]
    written: list[Path] = []
    try:
        for sub in ("images", "masks"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "classes.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
        for rel, data in ((f"images/{image_id}.png", _png(checked.image)), (f"masks/{image_id}.png", _png(gt))):
            (root / rel).write_bytes(data)
        added = []
        for label, mask in checked.regions:
            if label in to_support and label not in added and mask.any():
                cls = connection.vocabulary.classes.get(name=label)
                rel = _support_folder(cls, checked.image, mask)
                written.append(Path(settings.MEDIA_ROOT) / rel)
                core.curation.add_folder(cls, rel, 1, user=user or connection.owner)
                added.append(label)
        with transaction.atomic():
            LabelStudioAnnotation.objects.create(
                connection=connection, annotation_id=checked.annotation_id, task_id=checked.task_id,
                revision=checked.revision, image_id=image_id, classes=sorted({r[0] for r in checked.regions}),
                support_added=added, source=source, completed_by=checked.completed_by,
                received_by=user if getattr(user, "is_authenticated", False) else None)
            ids = list(dict.fromkeys([*dataset.image_ids, image_id]))
            core.Dataset.objects.filter(pk=dataset.pk).update(image_ids=ids, image_count=len(ids),
                                                              class_names=names, prompts=names)
    except IntegrityError:
        for path in written:
            shutil.rmtree(path, ignore_errors=True)
        raise CorrectionRefused(f"annotation {checked.annotation_id} at {checked.revision} was already received "
                                "(a replay)", 409) from None
    return {"annotation": checked.annotation_id, "task": checked.task_id, "dataset": dataset.pk,
            "image_id": image_id, "classes": sorted({r[0] for r in checked.regions}), "support_added": added}


def receive_webhook(connection: LabelStudioConnection, body: dict[str, Any]) -> dict[str, Any]:
    task = body.get("task") if isinstance(body.get("task"), dict) else {}
    annotation = body.get("annotation")
    task_id = task.get("id", annotation.get("task") if isinstance(annotation, dict) else None)
    checked = check(connection, task_id, annotation)
    return store(connection, checked, source="webhook", to_support=list(connection.support_classes or []))


def import_export(connection: LabelStudioConnection, export: Any, *, user: Any,
                  to_support: list[str]) -> list[dict[str, Any]]:
    """A Label Studio JSON export (a list of tasks with ``annotations``): every annotation is checked first, then
    all are stored; a refused one refuses the whole import (nothing changes)."""
    if not isinstance(export, list) or not export:
        raise CorrectionRefused("the export must be a non-empty JSON list of tasks (Label Studio's JSON export)")
    unknown = [c for c in to_support if c not in [v.name for v in connection.vocabulary.classes.all()]] \
        if connection.vocabulary is not None else to_support
    if unknown:
        raise CorrectionRefused(f"to_support names classes not in the vocabulary: {', '.join(unknown)}")
    checked = []
    for n, task in enumerate(export):
        if not isinstance(task, dict) or not isinstance(task.get("annotations"), list):
            raise CorrectionRefused(f"export[{n}] must be a task with an 'annotations' list")
        for annotation in task["annotations"]:
            if isinstance(annotation, dict) and annotation.get("was_cancelled"):
                continue
            checked.append(check(connection, task.get("id"), annotation))
    return [store(connection, c, source="import", to_support=to_support, user=user) for c in checked]
