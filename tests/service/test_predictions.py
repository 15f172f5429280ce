"""Prediction jobs (/api/predictions/): submit images with a vocabulary, the workers' per-image step (run here
in-process through the same Celery tasks an evaluation uses), results, explanations, exports, bad input and access.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ovdiff_web.core.models import ImageResult, Run, RunShard
from ovdiff_web.runs import state as run_state

# Smaller than the tiny profile still: 2 support images, 4 denoising steps, attribution-threshold masks.
FAST = {"support": {"n_images": 2, "num_inference_steps": 4},
        "masks": {"proposer": "attribution", "use_instance_masks": False}}


def png(name: str, size: tuple[int, int] = (40, 32), seed: int = 0) -> io.BytesIO:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buf, format="PNG")
    buf.seek(0)
    buf.name = name
    return buf


def submit(api: APIClient, **extra: Any) -> Any:
    body: dict[str, Any] = {"files": [png("street.png"), png("park.jpg", seed=1)], "classes": "cat, sky",
                            "stuff": "sky", "profile": "tiny", "settings": json.dumps(FAST)}
    body.update(extra)
    return api.post("/api/predictions/", {k: v for k, v in body.items() if v is not None}, format="multipart")


def run_inline(run_id: int) -> Run:
    """The job's tasks in this process, in the order the canvas runs them (class builds, shards, finalize)."""
    from tasks.runs import finalize_metrics, segment_shard
    from tasks.support import build_class_artifacts

    from ovdiff_web.common import engine_bridge

    run_state.mark_running(run_id)
    run = Run.objects.get(pk=run_id)
    ovd = engine_bridge.ovdiff(run.profile, run.settings)
    for i, spec in enumerate(run.class_specs()):  # start_run's planning: cached classes are not queued
        if not engine_bridge.class_is_cached(ovd, engine_bridge.store(), spec):
            build_class_artifacts.apply(args=(run_id, i)).get()
    for shard in RunShard.objects.filter(run_id=run_id):
        segment_shard.apply(args=(run_id, shard.index)).get()
    finalize_metrics.apply(args=(run_id,)).get()
    run.refresh_from_db()
    return run


@pytest.fixture
def bob_api(other_user: Any, media_root: Path) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")
    return client


@pytest.fixture
def done_job(api: APIClient) -> dict[str, Any]:
    response = submit(api)
    assert response.status_code == 202, response.content
    run = run_inline(response.json()["id"])
    assert run.status == "succeeded", run.error
    return response.json()


def test_submit_answers_202_and_keeps_the_images(api: APIClient, media_root: Path) -> None:
    response = submit(api)
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["status"] == "queued" and job["image_count"] == 2
    assert job["class_names"] == ["background", "cat", "sky"]
    run = Run.objects.get(pk=job["id"])
    assert run.kind == Run.Kind.SEGMENTATION and sorted(run.image_ids) == ["park.png", "street.png"]
    assert [c["is_stuff"] for c in run.vocabulary_snapshot] == [False, True]
    assert sorted(p.name for p in (media_root / "runs" / str(run.pk) / "images").iterdir()) == sorted(run.image_ids)
    assert not any((media_root / "tmp").iterdir())


def test_results_explanation_and_exports(api: APIClient, done_job: dict[str, Any]) -> None:
    from pycocotools import mask as coco_mask

    base = f"/api/predictions/{done_job['id']}"
    progress = api.get(f"{base}/progress/").json()
    assert progress["status"] == "succeeded" and progress["percent"] == 100.0
    results = api.get(f"{base}/results/").json()
    assert [r["image_id"] for r in results["results"]] == ["park.png", "street.png"]
    assert [c["name"] for c in results["legend"]] == ["background", "cat", "sky"]
    first = results["results"][0]
    assert sum(first["pixel_share"].values()) == pytest.approx(1.0, abs=1e-4)
    assert set(first["kept_classes"]) <= {"cat", "sky"} and first["width"] == 40 and first["height"] == 32
    label = api.get(f"{base}/label.png/", {"image": "park.png"})
    assert label.status_code == 200 and label["Content-Type"] == "image/png"
    labels = np.array(Image.open(io.BytesIO(label.content)))
    assert labels.shape == (32, 40)
    assert api.get(f"{base}/overlay.png/", {"image": "park.png"}).status_code == 200
    explained = api.get(f"{base}/explain/", {"image": "park.png", "x": 3, "y": 5}).json()
    assert explained["class_name"] == ["background", "cat", "sky"][labels[5, 3]] and explained["explanations"]
    assert api.get(f"{base}/explain/", {"image": "park.png", "x": 400, "y": 5}).status_code == 400

    archive = zipfile.ZipFile(io.BytesIO(api.get(f"{base}/labels.zip/").content))
    assert sorted(archive.namelist()) == ["labels/park.png", "labels/street.png", "legend.json"]
    coco = api.get(f"{base}/coco.json/", {"min_area": 1}).json()  # every pixel: an exact round trip
    assert [c["name"] for c in coco["categories"]] == ["cat", "sky"]
    assert [c["isthing"] for c in coco["categories"]] == [1, 0]
    # Round trip: every class present decodes back to exactly its pixels of the label PNG.
    image_no = next(i["id"] for i in coco["images"] if i["file_name"] == "park.png")
    anns = [a for a in coco["annotations"] if a["image_id"] == image_no]
    assert {a["category_id"] for a in anns} == set(np.unique(labels).tolist()) - {0}
    for ann in anns:
        rle = dict(ann["segmentation"], counts=ann["segmentation"]["counts"].encode("ascii"))
        decoded = coco_mask.decode(rle)
        np.testing.assert_array_equal(decoded.astype(bool), labels == ann["category_id"])
        assert ann["area"] == int((labels == ann["category_id"]).sum())
        ys, xs = np.nonzero(labels == ann["category_id"])
        assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    # The polygon export of the same job decodes back to its regions (tests/service/test_polygon_exports.py)
    from tests.service.test_polygon_exports import best_iou, regions

    polygons = api.get(f"{base}/coco-polygons.json/").json()
    for ann in (a for a in polygons["annotations"] if a["image_id"] == image_no):
        decoded = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(ann["segmentation"], 32, 40)))
        assert best_iou(decoded.astype(bool), regions(labels, ann["category_id"])) >= 0.9


def test_zip_archive_and_stored_vocabulary(api: APIClient) -> None:
    vocab = api.post("/api/vocabularies/", {"name": "street", "names": "car, road"}, format="json").json()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("photos/a.png", png("a.png").getvalue())
        zf.writestr("photos/b.png", png("b.png", seed=2).getvalue())
    buf.seek(0)
    buf.name = "photos.zip"
    response = submit(api, files=None, classes=None, stuff=None, archive=buf, vocabulary=vocab["id"])
    assert response.status_code == 202, response.content
    run = Run.objects.get(pk=response.json()["id"])
    assert run.vocabulary_id == vocab["id"] and run.class_names == ["background", "car", "road"]
    assert sorted(run.image_ids) == ["a.png", "b.png"]


def test_registered_dataset_is_segmented_without_scoring(api: APIClient, demo_dataset: dict[str, Any]) -> None:
    response = api.post("/api/predictions/", {"dataset": demo_dataset["id"], "classes": ["cat", "sky"],
                                              "profile": "tiny", "settings": FAST}, format="json")
    assert response.status_code == 202, response.content
    run = run_inline(response.json()["id"])
    assert run.status == "succeeded", run.error
    rows = ImageResult.objects.filter(run=run)
    assert rows.count() == 4 and all(r.iou is None and r.pixel_share for r in rows)


def test_server_folder_without_masks(api: APIClient, settings: Any, tmp_path: Path) -> None:
    folder = tmp_path / "served" / "unlabelled"
    folder.mkdir(parents=True)
    Image.open(png("x.png")).save(folder / "x.png")
    settings.OVDIFF_DATASET_ROOTS = [tmp_path / "served"]
    response = api.post("/api/predictions/", {"folder": str(folder), "classes": "cat", "profile": "tiny",
                                              "settings": FAST}, format="json")
    assert response.status_code == 202, response.content
    assert Run.objects.get(pk=response.json()["id"]).image_ids == ["x.png"]
    outside = api.post("/api/predictions/", {"folder": str(tmp_path), "classes": "cat"}, format="json")
    assert outside.status_code == 400 and "folder" in outside.json()


def _bomb_png() -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, format="PNG")  # 400 Mpx that compress to a few kB
    buf.seek(0)
    buf.name = "bomb.png"
    return buf


def _hostile_zip() -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.png", png("ok.png").getvalue())
        zf.writestr("../../evil.png", png("evil.png").getvalue())
    buf.seek(0)
    buf.name = "hostile.zip"
    return buf


def _text_file() -> io.BytesIO:
    buf = io.BytesIO(b"hello, not an image")
    buf.name = "notes.png"
    return buf


def _empty_file() -> io.BytesIO:
    buf = io.BytesIO(b"")
    buf.name = "empty.jpg"
    return buf


@pytest.mark.parametrize("extra, field, needle", [
    ({"files": [png("good.png"), _text_file()]}, "files", "notes.png"),
    ({"files": [_bomb_png()]}, "files", "bomb.png"),
    ({"files": [_empty_file()]}, "files", "empty.jpg"),
    ({"vocabulary": 999_999, "classes": None, "stuff": None}, "vocabulary", "999999"),
    ({"classes": " , ", "stuff": None}, "classes", "at least one class"),
    ({"classes": ",".join(f"class {i}" for i in range(10_000)), "stuff": None}, "classes", "10000 classes"),
    ({"files": None, "archive": _hostile_zip()}, "archive", ".."),
    ({"stuff": "grass"}, "stuff", "grass"),
    ({"settings": "{not json"}, "settings", "JSON"),
])
def test_bad_input_is_4xx_naming_the_item_and_keeps_nothing(api: APIClient, media_root: Path, extra: dict[str, Any],
                                                           field: str, needle: str) -> None:
    response = submit(api, **extra)
    assert 400 <= response.status_code < 500, response.content
    body = response.json()
    assert field in body and needle in json.dumps(body), body
    assert not Run.objects.exists()
    leftovers = [p for p in media_root.rglob("*") if p.is_file()]
    assert leftovers == []


FAST_LINES = ["support.n_images=2", "support.num_inference_steps=4", "masks.proposer=attribution",
              "masks.use_instance_masks=false"]


def test_settings_take_group_field_value_as_the_forms_do(api: APIClient, media_root: Path) -> None:
    """The dashboard's ``group.field=value`` lines work in the API too (text, or a list of lines in JSON)."""
    from ovdiff_web.predictions.serializers import SettingsField

    assert SettingsField().to_internal_value(FAST_LINES) == FAST
    assert SettingsField().to_internal_value(json.dumps(FAST)) == FAST == SettingsField().to_internal_value(FAST)
    response = submit(api, settings="\n".join(FAST_LINES))
    assert response.status_code == 202, response.content
    run = Run.objects.get(pk=response.json()["id"])
    assert run.settings["support"]["n_images"] == 2 and run.settings["support"]["num_inference_steps"] == 4
    assert run.settings["masks"]["proposer"] == "attribution" and run.settings["masks"]["use_instance_masks"] is False
    shown = api.get(f"/api/predictions/{run.pk}/").json()["settings"]  # an API user can see what took effect
    assert shown["support"]["n_images"] == 2 and shown["masks"]["proposer"] == "attribution"


@pytest.mark.parametrize("given, needle", [("segment.pamr", "group.field=value"),
                                           ("segmnt.pamr=true", "segmnt"), (["support.n_images=x"], "n_images")])
def test_bad_settings_lines_are_400_naming_the_line(api: APIClient, given: Any, needle: str) -> None:
    from ovdiff_web.predictions.serializers import SettingsField
    from rest_framework.exceptions import ValidationError

    with pytest.raises(ValidationError, match=needle):
        SettingsField().to_internal_value(given)
    if isinstance(given, str):
        response = submit(api, settings=given)
        assert response.status_code == 400 and needle in json.dumps(response.json()["settings"])
        assert not Run.objects.exists()


def test_second_user_sees_nothing_of_alice(api: APIClient, bob_api: APIClient, done_job: dict[str, Any]) -> None:
    base = f"/api/predictions/{done_job['id']}"
    assert bob_api.get("/api/predictions/").json()["results"] == []
    for url, params in [(f"{base}/", {}), (f"{base}/results/", {}), (f"{base}/progress/", {}),
                        (f"{base}/label.png/", {"image": "park.png"}), (f"{base}/overlay.png/", {"image": "park.png"}),
                        (f"{base}/explain/", {"image": "park.png", "x": 1, "y": 1}), (f"{base}/labels.zip/", {}),
                        (f"{base}/coco.json/", {})]:
        assert bob_api.get(url, params).status_code == 404, url
    for action in ("cancel", "resume"):
        assert bob_api.post(f"{base}/{action}/").status_code == 404
    assert api.get(f"{base}/results/").status_code == 200


def test_cancel_and_resume_are_the_runs(api: APIClient) -> None:
    job = submit(api).json()
    cancelled = api.post(f"/api/predictions/{job['id']}/cancel/")
    assert cancelled.status_code == 202 and cancelled.json()["cancel_requested"]
    run = Run.objects.get(pk=job["id"])
    assert run.status == "cancelled"
    assert api.post(f"/api/predictions/{job['id']}/resume/").status_code == 202


def test_warm_worker_does_not_reload_models_or_prototypes(api: APIClient, monkeypatch: Any) -> None:
    """A second job with the same vocabulary reuses the worker's loaded models, banks and segmenter."""
    import engine.prototypes.banks as banks_module
    import engine.segment.segmenter as segmenter_module
    from engine.models.registry import ModelRegistry

    first = submit(api).json()
    assert run_inline(first["id"]).status == "succeeded"
    loads: list[str] = []
    real_bank, real_place = banks_module.load_bank, ModelRegistry._place
    real_segmenter = segmenter_module.Segmenter
    monkeypatch.setattr(banks_module, "load_bank", lambda *a, **k: loads.append("bank") or real_bank(*a, **k))
    monkeypatch.setattr(ModelRegistry, "_place", lambda self, *a, **k: loads.append("model") or real_place(self, *a, **k))
    monkeypatch.setattr(segmenter_module, "Segmenter",
                        lambda *a, **k: loads.append("segmenter") or real_segmenter(*a, **k))
    second = submit(api, files=[png("later.png", seed=5)]).json()
    run = run_inline(second["id"])
    assert run.status == "succeeded", run.error
    assert ImageResult.objects.filter(run=run).count() == 1
    assert loads == []  # no model, bank or segmenter built again: the worker stayed warm
    third = submit(api, files=[png("other.png")], classes="dog", stuff=None).json()
    assert run_inline(third["id"]).status == "succeeded"
    assert "segmenter" in loads  # the spies do see a new vocabulary's work (the test can fail)


def test_too_many_images_are_refused(api: APIClient, media_root: Path, settings: Any, tmp_path: Path) -> None:
    settings.OVDIFF_PREDICT_MAX_IMAGES = 1
    response = submit(api)
    assert response.status_code == 400 and "at most 1 per prediction job" in response.json()["detail"]
    folder = tmp_path / "served"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.open(png(name)).save(folder / name)
    settings.OVDIFF_DATASET_ROOTS = [folder]
    response = api.post("/api/predictions/", {"folder": str(folder), "classes": "cat"}, format="json")
    assert response.status_code == 400 and "folder" in response.json()
    assert not Run.objects.exists() and not [p for p in media_root.rglob("*") if p.is_file()]


def test_redelivered_shard_changes_nothing(api: APIClient, done_job: dict[str, Any]) -> None:
    """A shard delivered again after its work was recorded is skipped; one redone after a crash (not marked
    finished) rewrites its rows and files in place: never a duplicate."""
    from tasks.runs import segment_shard

    run = Run.objects.get(pk=done_job["id"])
    shard = RunShard.objects.get(run=run)
    Run.objects.filter(pk=run.pk).update(status="running")  # as while its other shards still run
    assert segment_shard.apply(args=(run.pk, shard.index)).get()["already_done"] is True
    before = {r.image_id: r.pixel_share for r in ImageResult.objects.filter(run=run)}
    RunShard.objects.filter(pk=shard.pk).update(finished_at=None)
    assert segment_shard.apply(args=(run.pk, shard.index)).get()["images"] == 2
    assert {r.image_id: r.pixel_share for r in ImageResult.objects.filter(run=run)} == before


def test_oversized_upload_is_413(api: APIClient, media_root: Path, settings: Any) -> None:
    settings.OVDIFF_MAX_UPLOAD_MB = 1
    big = png("big.png", size=(1200, 900))  # random pixels: about 3 MB of PNG
    response = submit(api, files=[big])
    assert response.status_code == 413 and "big.png" in response.json()["detail"]
    assert not Run.objects.exists() and not [p for p in media_root.rglob("*") if p.is_file()]
