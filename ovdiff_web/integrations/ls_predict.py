"""Label Studio's /setup and /predict, done with ovdiff's own pieces: the labelling config's labels become the
connection's vocabulary, task images are fetched from Label Studio and segmented by a prediction job on the
workers (never here), and each class present comes back as a brush region in Label Studio's RLE (encoded by
label-studio-converter's ``mask2rle``, the same code as ``label_studio_sdk.converter.brush``) or as polygons."""
from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from ovdiff_web.integrations import core_bridge as core
from ovdiff_web.integrations import ls_client, ls_config
from ovdiff_web.integrations.models import LabelStudioConnection, LabelStudioTask

FINISHED = ("succeeded", "failed", "cancelled")


class NotReady(RuntimeError):
    """The prediction job did not finish within Label Studio's time: says what it is doing (503)."""


class PredictRefused(ValueError):
    """A request ovdiff cannot answer (bad task, image not on the connected Label Studio): 4xx with the reason."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def sync_vocabulary(connection: LabelStudioConnection, config: ls_config.LabelConfig) -> Any:
    """The connection's vocabulary holding exactly the config's labels (new ones labelled thing/stuff by the
    labeller; a person's later edits in ovdiff are kept); created on first use."""
    vocabulary = connection.vocabulary
    with transaction.atomic():
        if vocabulary is None:
            vocabulary = core.Vocabulary.objects.create(
                name=f"Label Studio #{connection.pk}: {connection.name}"[:200], owner=connection.owner,
                description="The labels of a Label Studio labelling config (ovdiff as its ML backend).")
            connection.vocabulary = vocabulary
            connection.save(update_fields=["vocabulary"])
            core.add_classes(vocabulary, config.labels, user=connection.owner, initial=True)
        else:
            core.add_classes(vocabulary, config.labels, user=connection.owner)
            wanted = {label.lower() for label in config.labels}
            gone = [c for c in vocabulary.classes.all() if c.name.lower() not in wanted]
            if gone:
                from_version = vocabulary.version
                core.VocabularyClass.objects.filter(pk__in=[c.pk for c in gone]).delete()
                vocabulary.bump_version()
                core.audit.record(connection.owner, vocabulary, "remove_classes",
                                  {"classes": [[c.name for c in gone], []]}, from_version)
    vocabulary.refresh_from_db()
    return vocabulary


def setup(connection: LabelStudioConnection, schema: str) -> dict[str, Any]:
    """Take the labelling config, sync the vocabulary and, once per model version, queue building every class's
    support set and banks on the workers (cache hits for built ones). Quick: Label Studio waits 3 s."""
    config = ls_config.parse(schema)
    vocabulary = sync_vocabulary(connection, config)
    version = ls_config.model_version(connection.profile, vocabulary)
    fields = ["label_config"]
    connection.label_config = schema
    queued = 0
    if connection.warmed_version != version:
        for cls in vocabulary.classes.all():
            try:
                core.queue_regenerate(cls, connection.profile, connection.settings or {}, user=connection.owner)
                queued += 1
            except (core.RunInputError, core.quotas.QuotaExceeded, core.queue.QueueUnavailable):
                break  # the prediction job builds what is missing (and says so when it refuses)
        connection.warmed_version = version
        fields.append("warmed_version")
    connection.save(update_fields=fields)
    return {"model_version": version, "classes": [c.name for c in vocabulary.classes.all()], "queued": queued}


def _config(connection: LabelStudioConnection, label_config: str | None) -> ls_config.LabelConfig:
    if label_config and label_config != connection.label_config:
        setup(connection, label_config)
    if not connection.label_config:
        raise PredictRefused("no labelling config yet: Label Studio sends it with /setup (connect the model again)")
    return ls_config.parse(connection.label_config)


def _image_url(task: Any, config: ls_config.LabelConfig) -> tuple[int, str]:
    if not isinstance(task, dict) or not isinstance(task.get("id"), int) or not isinstance(task.get("data"), dict):
        raise PredictRefused("each task must be an object with an integer 'id' and a 'data' object")
    key = config.image_key(config.controls[0])
    url = task["data"].get(key)
    if not isinstance(url, str) or not url:
        raise PredictRefused(f"task {task['id']}: no image under data.{key} (the config's <Image value=\"${key}\">)")
    return task["id"], url


def _start_job(connection: LabelStudioConnection, todo: list[tuple[int, str]], version: str) -> None:
    files = []
    for task_id, url in todo:
        try:
            data = ls_client.fetch_image(connection, url)
        except ValueError as exc:
            raise PredictRefused(f"task {task_id}: {exc}") from None
        files.append(SimpleUploadedFile(f"task-{task_id}.png", data))
    try:
        run = core.create_prediction(user=connection.owner, files=files, vocabulary=connection.vocabulary,
                                     profile=connection.profile, overrides=connection.settings or {})
    except core.ImageRefused as exc:
        raise PredictRefused(str(exc), status=exc.status) from None
    except (core.RunInputError, core.quotas.QuotaExceeded) as exc:
        raise PredictRefused(str(exc), status=getattr(exc, "status", 400)) from None
    LabelStudioTask.objects.bulk_create([
        LabelStudioTask(connection=connection, task_id=task_id, image_url=url, model_version=version, run=run,
                        image_id=f"task-{task_id}.png") for task_id, url in todo])


def _answers(connection: LabelStudioConnection, wanted: list[tuple[int, str]],
             version: str) -> dict[int, LabelStudioTask]:
    rows = (LabelStudioTask.objects.filter(connection=connection, model_version=version,
                                           task_id__in=[t for t, _ in wanted])
            .exclude(run__status__in=["failed", "cancelled"]).select_related("run").order_by("-created_at"))
    urls = dict(wanted)
    found: dict[int, LabelStudioTask] = {}
    for row in rows:
        if row.task_id not in found and urls.get(row.task_id) == row.image_url:
            found[row.task_id] = row
    return found


def _wait(runs: list[Any], deadline: float) -> list[Any]:
    ids = [r.pk for r in runs]
    while True:
        fresh = list(core.Run.objects.filter(pk__in=ids).prefetch_related("stages"))
        if all(r.status in FINISHED for r in fresh) or time.monotonic() >= deadline:
            return fresh
        time.sleep(0.25)


def _progress(run: Any) -> str:
    stages = {s.name: s for s in run.stages.all()}
    banks, segment = stages.get("banks"), stages.get("segment")
    if banks is not None and banks.status != "done":
        return (f"prediction job {run.pk}: building support sets and prototype banks "
                f"({banks.done}/{banks.total} classes done)")
    done = f"{segment.done}/{segment.total}" if segment is not None else "?"
    return f"prediction job {run.pk}: segmenting ({done} images done, status {run.status})"


def predict(connection: LabelStudioConnection, tasks: Any, label_config: str | None = None) -> dict[str, Any]:
    """``{"results": [...]}`` for ``tasks`` (one entry per task, in order); NotReady when the job does not finish
    within ``OVDIFF_LS_PREDICT_WAIT_S`` (the next call picks up the same job, nothing is segmented twice)."""
    if not isinstance(tasks, list) or not tasks:
        raise PredictRefused("'tasks' must be a non-empty list")
    if len(tasks) > settings.OVDIFF_PREDICT_MAX_IMAGES:
        raise PredictRefused(f"{len(tasks)} tasks; at most {settings.OVDIFF_PREDICT_MAX_IMAGES} per request")
    deadline = time.monotonic() + settings.OVDIFF_LS_PREDICT_WAIT_S
    config = _config(connection, label_config)
    connection.refresh_from_db()
    version = ls_config.model_version(connection.profile, connection.vocabulary)
    wanted = [_image_url(t, config) for t in tasks]
    found = _answers(connection, wanted, version)
    todo = [(t, u) for t, u in dict(wanted).items() if t not in found]
    if todo:
        _start_job(connection, todo, version)
        found = _answers(connection, wanted, version)
    runs = {r.pk: r for r in _wait(list({row.run_id: row.run for row in found.values()}.values()), deadline)}
    failed = [r for r in runs.values() if r.status != "succeeded" and r.status in FINISHED]
    if failed:
        raise PredictRefused(f"prediction job {failed[0].pk} {failed[0].status}: {failed[0].error[:500]}", status=500)
    pending = [r for r in runs.values() if r.status not in FINISHED]
    if pending:
        raise NotReady("; ".join(_progress(r) for r in pending) + ". Label Studio's wait is over: retrieve the "
                       "predictions again in a moment (the job keeps running; nothing is lost).")
    results = []
    for task_id, _url in wanted:
        row = found[task_id]
        results.append(task_result(runs[row.run_id], row.image_id, config, version))
    return {"results": results, "model_version": version}


def _region_score(scores: dict[str, Any], mask: Any) -> float:
    import numpy as np

    values = [float(np.nanmean(a[mask])) for a in scores.values()
              if getattr(a, "shape", None) == mask.shape and np.isfinite(a[mask]).any()]
    return round(float(np.clip(np.mean(values), 0.0, 1.0)), 4) if values else 0.0


def task_result(run: Any, image_id: str, config: ls_config.LabelConfig, version: str) -> dict[str, Any]:
    """One task's prediction: a region per (control, class present) with its score, and the mean score."""
    import numpy as np

    labels = core.run_labels(run, image_id)
    try:
        _winners, scores, _index = core.read_explain(run.pk, image_id)
    except LookupError:
        scores = {}
    height, width = labels.shape
    regions = []
    for control in config.controls:
        for label in control.labels:
            if label not in run.class_names:
                continue
            mask = labels == run.class_names.index(label)
            if not mask.any():
                continue
            value = region_value(control, label, mask)
            if value is None:
                continue
            regions.append({"id": f"ovdiff-{len(regions)}", "from_name": control.from_name,
                            "to_name": control.to_name, "type": control.type, "original_width": int(width),
                            "original_height": int(height), "image_rotation": 0, "value": value,
                            "score": _region_score(scores, mask), "readonly": False})
    score = round(float(np.mean([r["score"] for r in regions])), 4) if regions else 0.0
    return {"result": regions, "score": score, "model_version": version}


def region_value(control: ls_config.Control, label: str, mask: Any) -> dict[str, Any] | None:
    """The ``value`` of one region: brush RLE (Label Studio's own RLE of RGBA bytes) or polygons in percent."""
    import numpy as np

    if control.type == "brushlabels":
        from label_studio_converter.brush import mask2rle

        return {"format": "rle", "rle": [int(v) for v in mask2rle(mask.astype(np.uint8) * 255)],
                "brushlabels": [label]}
    from skimage import measure

    height, width = mask.shape
    contours = measure.find_contours(np.pad(mask, 1).astype(np.uint8), 0.5)
    if not contours:
        return None
    biggest = max(contours, key=len)  # one polygon per class: its largest outline
    biggest = measure.approximate_polygon(biggest, tolerance=0.5)
    points = [[round(float(np.clip(x - 1, 0, width)) * 100 / width, 3),
               round(float(np.clip(y - 1, 0, height)) * 100 / height, 3)] for y, x in biggest[:-1]]
    return {"points": points, "polygonlabels": [label], "closed": True} if len(points) >= 3 else None
