"""The synthetic data behind docs/screenshots/ (``scripts/screenshots.py`` runs ``seed()`` in a subprocess with its
temporary database and data dir): users, a dataset, runs, vocabularies, support sets built in this process by the
random-weight ``tiny`` engine, a prediction job, edits that fill the history pages and a Label Studio connection
(rows only: its pages need no Label Studio server). Everything goes through the project's own services and models,
as the tests do."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

USER, PASSWORD = "alice", "screenshots-pw-1"
STAFF, STAFF_PASSWORD = "carol", "teal-otter-screens-7"  # the staff member who opens the Team page


def seed() -> dict[str, int | str]:
    """Users, a dataset, runs, a vocabulary, a class with an uploaded support set, a curated class with runs
    before and after, a class given masks, history edits, a Label Studio connection, a finished prediction job;
    returns the ids the pages need."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ovdiff_web.accounts.teammates import add_teammate
    from ovdiff_web.core.models import Dataset, Run, Vocabulary
    from ovdiff_web.datasets.preview import image_and_labels
    from ovdiff_web.runs.lifecycle import set_run_label
    from ovdiff_web.support.images import save_user_support_images
    from ovdiff_web.vocabularies.services import add_classes, set_label
    from tests.ui.factories import make_demo_dataset, make_finished_run, make_vocabulary_run

    media = Path(settings.MEDIA_ROOT)
    media.mkdir(parents=True, exist_ok=True)
    user = get_user_model().objects.create_user(USER, password=PASSWORD)
    add_teammate(STAFF, password=STAFF_PASSWORD, staff=True)
    add_teammate("bob", password="lime-heron-walls-4", by=user)
    dataset = make_demo_dataset(Path(settings.OVDIFF_DATA_DIR) / "demo", n_images=8, size=160)
    Dataset.objects.filter(pk=dataset.pk).update(created_by=user)
    plain = make_finished_run(dataset, user, media)
    run = make_vocabulary_run(dataset, user, media)
    big = make_vocabulary_run(dataset, user, media, n_classes=150)
    set_run_label(run, name="street vocabulary, paper settings", notes="Two classes the dataset lacks: zebra, lava.")
    set_run_label(big, name="150-class stress test",
                  notes="Its confusion matrix is synthetic (made by scripts/screenshots.py) to show a full 150-class "
                        "matrix; the 8 demo images only hold 4 classes.")
    Run.objects.filter(pk=big.pk).update(confusion=_synthetic_confusion(len(big.class_names)))
    Run.objects.filter(pk=plain.pk).update(name="dataset classes")
    vocab = Vocabulary.objects.create(name="street", owner=user, description="what the team segments every week")
    add_classes(vocab, ["bus", "road", "sky", "person", "grass"], initial=True)
    bus = vocab.classes.get(name="bus")
    bus.prompt = "red double-decker bus"
    bus.save()
    image, _ = image_and_labels(dataset, dataset.image_ids[0])
    files = [SimpleUploadedFile(f"own{i}.png", _png(image[:, ::(1 if i % 2 else -1)]), "image/png") for i in range(3)]
    save_user_support_images(bus, files)
    job = _prediction_job(user, dataset)
    person, before, after = _curated_class(vocab, dataset, user)
    for is_stuff in (True, False):  # a flip and its undoing, for the history pages
        person = set_label(person, is_stuff=is_stuff, user=user)
    walls, brick = _masks_class(dataset, user)
    _mask_choice(plain, brick)
    connection = _label_studio(walls, user)
    return {"run": run.pk, "big": big.pk, "plain": plain.pk, "dataset": dataset.pk, "vocab": vocab.pk,
            "cls": bus.pk, "n": len(run.class_names), "job": job.pk, "job_image": job.image_ids[0],
            "curated": person.pk, "before": before.pk, "after": after.pk, "image": dataset.image_ids[1],
            "editor_image": list(_review_images(person))[-1].pk, "masks": brick.pk, "ls": connection.pk}


def _prediction_job(user: Any, dataset: Any) -> Any:
    """A finished tiny-profile prediction job on three demo images, queued through the service the Segment page
    calls and run in this process in the worker's task order (as tests/ui/test_predictions_page.py does)."""
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ovdiff_web.datasets.preview import image_and_labels
    from ovdiff_web.runs.lifecycle import set_run_label
    from ovdiff_web.predictions.services import create_prediction
    from tests.service.test_predictions import FAST, run_inline

    files = [SimpleUploadedFile(f"{name}.png", _png(image_and_labels(dataset, name)[0]), "image/png")
             for name in dataset.image_ids[:3]]
    job = create_prediction(user=user, files=files, classes="brick, grass, gravel, sky", stuff="grass, gravel, sky",
                            profile="tiny", overrides=FAST)
    job = run_inline(job.pk)
    assert job.status == "succeeded", job.error
    drop_own_keys(settings.OVDIFF_QUEUE_PREFIX)  # the start_run queued for a worker: its work was done here
    set_run_label(job, name="yard photos", notes="")
    return job


def _build(cls: Any) -> None:
    """Build the class's support set and prototype banks as the worker's ``regenerate_class`` does (its support
    version included), in this process: no broker, no result backend."""
    from ovdiff_web.common import engine_bridge
    from ovdiff_web.support.artifacts import record_artifacts
    from ovdiff_web.support.curation import note_built

    ovd = engine_bridge.ovdiff("tiny")
    cls.refresh_from_db()
    spec = cls.to_spec()
    support = ovd.support_set(spec)
    record_artifacts("tiny", support, ovd.banks(spec), spec=spec, class_id=cls.pk)
    note_built(cls.pk, cls.support_version, support.key)


def _review_images(cls: Any) -> Any:
    from ovdiff_web.support import curation

    return curation.review_set(cls).images.order_by("index")


def _curated_class(vocab: Any, dataset: Any, user: Any) -> tuple[Any, Any, Any]:
    """The vocabulary's support sets built by the tiny engine and recorded (as the curation tests' ``built``
    fixture does), one class curated twice (an image excluded, a proposed mask chosen), and two runs of the
    vocabulary made before and after that curation, for the compare page."""
    from ovdiff_web.core.models import Run
    from ovdiff_web.support import curation

    for cls in vocab.classes.exclude(name="bus"):
        _build(cls)
    person = vocab.classes.get(name="person")
    snapshot_before = [c.snapshot() for c in vocab.classes.all()]
    images = list(_review_images(person))
    curation.exclude(person, images[0].content_id, "two people, one is cut off", user=user)
    masked = next((im for im in images[1:] if im.instances), None)
    if masked is not None:
        curation.choose_mask(person, masked.content_id, "instance:0", user=user)
    snapshot_after = [c.snapshot() for c in vocab.classes.all()]
    names = ["background", *(c.name for c in vocab.classes.all())]

    def run(snapshot: list[dict[str, Any]], person_iou: float, label: str) -> Run:
        iou = {n: 0.3 + 0.05 * i for i, n in enumerate(names)}
        iou["person"] = person_iou
        return Run.objects.create(dataset=dataset, vocabulary=vocab, profile="tiny", is_random_weights=True,
                                  status=Run.Status.SUCCEEDED, vocabulary_snapshot=snapshot, class_names=names,
                                  miou=sum(iou.values()) / len(iou), per_class_iou=iou, created_by=user, name=label)

    before = run(snapshot_before, 0.25, "street, support sets as built")
    after = run(snapshot_after, 0.40, "street, person curated")
    return person, before, after


def _masks_class(dataset: Any, user: Any) -> tuple[Any, Any]:
    """A vocabulary "walls" whose class brick was built, then given three photos through the class page's
    service, two of them with their masks (the brick of the demo dataset's ground truth, cropped), and rebuilt:
    the review shows those two "given by user" and proposed masks (with thumbnails) for the others."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ovdiff_web.core.models import Vocabulary
    from ovdiff_web.datasets.preview import image_and_labels
    from ovdiff_web.support.masks.ground_truth import crop_to_region
    from ovdiff_web.support.masks.services import add_uploads
    from ovdiff_web.vocabularies.services import add_classes

    walls = Vocabulary.objects.create(name="walls", owner=user, description="labelled in Label Studio")
    add_classes(walls, ["brick", "grass", "gravel"], initial=True)
    brick = walls.classes.get(name="brick")
    _build(brick)
    crops = []
    for image_id in dataset.image_ids:
        image, labels = image_and_labels(dataset, image_id)
        if (labels == 1).sum() >= 400:  # 1: brick in the demo dataset
            crops.append(crop_to_region(image, labels == 1))
    crops = crops[:3]
    images = [SimpleUploadedFile(f"wall{i}.png", _png(im), "image/png") for i, (im, _) in enumerate(crops)]
    masks = [SimpleUploadedFile(f"wall{i}.png", _png(fg.astype("uint8") * 255), "image/png")
             for i, (_, fg) in enumerate(crops[:2])]
    add_uploads(brick, images, masks, user=user)
    _build(brick)
    return walls, brick


def _mask_choice(run: Any, cls: Any) -> None:
    """The run "dataset classes" as if its vocabulary had chosen the other side of the first proposed mask of one
    of the class's uploads (``masks.user_fg_rule="vocabulary"``): its page lists it with a "keep" button."""
    from ovdiff_web.core.models import SupportImage

    image = next(im for im in SupportImage.objects.filter(support_set__classes=cls).order_by("-pk") if im.instances)
    image.support_set.runs.add(run)
    snapshot = [{**c, "class_id": cls.pk} if c.get("name") == cls.name else c for c in run.vocabulary_snapshot]
    type(run).objects.filter(pk=run.pk).update(vocabulary_snapshot=snapshot,
                                               support_mask_choices={cls.name: {image.content_id: "candidate:1"}})


def _label_studio(walls: Any, user: Any) -> Any:
    """A Label Studio connection as its API and webhook leave it (rows only: no Label Studio server here): the
    vocabulary walls, a dataset of corrected images evaluated before and after the corrections received."""
    from django.conf import settings

    from engine.evaluation.demo_data import write_demo_dataset
    from ovdiff_web.core.models import Dataset, Run
    from ovdiff_web.datasets.services import ingest
    from ovdiff_web.integrations.models import (LabelStudioAnnotation, LabelStudioConnection, hash_token,
                                                new_token)

    root = write_demo_dataset(Path(settings.OVDIFF_DATA_DIR) / "corrected", n_images=4, size=96, seed=1)
    corrected = ingest(Dataset.objects.create(name="walls, corrected in Label Studio", format="folder", root=str(root),
                                              source=Dataset.Source.SERVER, split="val", created_by=user))
    connection = LabelStudioConnection.objects.create(
        owner=user, name="walls project", token_hash=hash_token(new_token()), profile="tiny",
        label_studio_url="http://label-studio.internal:8080", access_token="(Label Studio API token)",
        vocabulary=walls, dataset=corrected, support_classes=["brick"], warmed_version="tiny-0a1b2c3d")
    names = ["background", "brick", "grass", "gravel"]

    def run(ious: list[float], label: str) -> Run:
        iou = dict(zip(names, ious))
        return Run.objects.create(dataset=corrected, vocabulary=walls, profile="tiny", is_random_weights=True,
                                  status=Run.Status.SUCCEEDED, class_names=names, per_class_iou=iou, name=label,
                                  vocabulary_snapshot=[c.snapshot() for c in walls.classes.all()],
                                  miou=sum(ious) / len(ious), created_by=user)

    run([0.61, 0.34, 0.52, 0.47], "walls, before the corrections")
    for i, image_id in enumerate(corrected.image_ids[:3]):
        LabelStudioAnnotation.objects.create(
            connection=connection, annotation_id=100 + i, task_id=40 + i, revision=f"2025-01-0{i + 1}T10:00:00Z",
            image_id=image_id, classes=["brick", "grass"] if i else ["brick"], support_added=["brick"] if i < 2
            else [], source="webhook" if i else "import", completed_by="dana@example.org", received_by=user)
    run([0.63, 0.45, 0.53, 0.47], "walls, after the corrections")
    LabelStudioConnection.objects.create(  # one just created: Label Studio has not called /setup yet
        owner=user, name="sidewalk project", token_hash=hash_token(new_token()), profile="tiny",
        label_studio_url="http://label-studio.internal:8080", access_token="(Label Studio API token)")
    return connection


def drop_own_keys(prefix: str) -> None:
    """Delete this script's Redis keys (its queues and worker-monitor cache), named by its own per-pid prefix;
    no other session's keys are touched."""
    import redis

    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


def _synthetic_confusion(n: int) -> list[list[int]]:
    """A plausible n x (n + 1) matrix: mostly diagonal, confusions with neighbouring classes, some extra column."""
    import numpy as np

    rng = np.random.default_rng(0)
    m = rng.poisson(3, size=(n, n + 1)).astype(np.int64)
    for i in range(n):
        m[i, i] += rng.integers(200, 2000)
        for d in (1, 2, 7):
            m[i, (i + d) % n] += rng.integers(0, 400)
        m[i, n] += rng.integers(0, 300)
    return m.tolist()


def _png(array) -> bytes:  # noqa: ANN001
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()
