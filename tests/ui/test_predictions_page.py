"""The dashboard's Segment page: prediction jobs queued from a form, their page, image viewer, explanation and
downloads (the worker's tasks run here in-process), refusals that keep nothing, the GPU-worker notice, and a
second user who sees none of it."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from ovdiff_web.core.models import Run
from tests.service.test_predictions import png, run_inline

pytestmark = pytest.mark.django_db
FAST_LINES = "support.n_images=2\nsupport.num_inference_steps=4\nmasks.proposer=attribution\nmasks.use_instance_masks=false"


@pytest.fixture
def job(ui: Any) -> Run:
    response = ui.post("/segment/", {"images": [png("street.png"), png("park.png", seed=1)], "classes": "cat, sky",
                                     "stuff": "sky", "profile": "tiny", "overrides": FAST_LINES})
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = Run.objects.get()
    assert response["Location"] == f"/segment/jobs/{run.pk}/"
    return run


def test_queue_a_job_and_watch_it(ui: Any, job: Run, settings: Any) -> None:
    settings.OVDIFF_QUEUE_PREFIX = "nobody-consumes-"  # no worker is online for this queue
    assert job.kind == "segmentation" and job.settings["support"]["n_images"] == 2
    listing = ui.get("/segment/").content.decode()
    assert f'data-job="{job.pk}"' in listing and "data-gpu-notice" in listing and "answered or sent a heartbeat in the last 60 s" in listing
    assert "none is online" not in listing
    page = ui.get(f"/segment/jobs/{job.pk}/").content.decode()
    assert "data-progress-url" in page and "data-gpu-notice" in page and "No image segmented yet" in page
    # a prediction job is not scored: no "metrics 0/0" stage beside its real ones
    assert 'data-stage="segment"' in page and 'data-stage="metrics"' not in page


def test_browse_explain_and_download(ui: Any, job: Run, settings: Any) -> None:
    from PIL import Image

    assert run_inline(job.pk).status == "succeeded"
    base = f"/segment/jobs/{job.pk}"
    page = ui.get(f"{base}/").content.decode()
    assert "data-prediction-images" in page and "data-download-coco" in page and "data-gpu-notice" not in page
    viewer = ui.get(f"{base}/image/", {"image": "park.png"}).content.decode()
    assert "data-opacity" in viewer and 'data-class-toggle="2"' in viewer and "data-pixel-share" in viewer
    assert "data-explain-url" in viewer
    overlay = ui.get(f"{base}/overlay.png", {"image": "park.png", "hide": "1"})
    assert overlay.status_code == 200 and Image.open(io.BytesIO(overlay.content)).mode == "RGBA"
    assert Image.open(io.BytesIO(ui.get(f"{base}/input.png", {"image": "park.png"}).content)).size == (40, 32)
    explained = ui.get(f"{base}/explain.json", {"image": "park.png", "x": 2, "y": 2}).json()
    assert explained["explanations"] and explained["class_name"] in ("background", "cat", "sky")
    assert ui.get(f"{base}/explain.json", {"image": "park.png", "x": "a", "y": 2}).status_code == 400
    names = zipfile.ZipFile(io.BytesIO(ui.get(f"{base}/labels.zip").content)).namelist()
    assert "legend.json" in names and len(names) == 3
    coco = json.loads(ui.get(f"{base}/coco.json").content)
    assert len(coco["images"]) == 2 and coco["annotations"]
    assert ui.get(f"{base}/image/", {"image": "nope.png"}).status_code == 404
    assert "data-delete-link" in page
    assert ui.post(f"/runs/{job.pk}/delete/").status_code == 302  # the job with its images and results
    assert not Run.objects.filter(pk=job.pk).exists() and not (settings.MEDIA_ROOT / "runs" / str(job.pk)).exists()


def test_second_user_sees_nothing(ui: Any, job: Run, other_user: Any) -> None:
    run_inline(job.pk)
    bob = Client()
    bob.force_login(other_user)
    assert f'data-job="{job.pk}"' not in bob.get("/segment/").content.decode()
    base = f"/segment/jobs/{job.pk}"
    for url in (f"{base}/", f"{base}/image/?image=park.png", f"{base}/input.png?image=park.png",
                f"{base}/overlay.png?image=park.png", f"{base}/explain.json?image=park.png&x=1&y=1",
                f"{base}/labels.zip", f"{base}/coco.json", f"/files/runs/{job.pk}/images/park.png"):
        assert bob.get(url).status_code == 404, url
    assert bob.post(f"/runs/{job.pk}/cancel/").status_code == 404


def test_refusals_name_the_item_and_keep_nothing(ui: Any, media_root: Path) -> None:
    junk = io.BytesIO(b"not an image")
    junk.name = "junk.png"
    response = ui.post("/segment/", {"images": [png("ok.png"), junk], "classes": "cat", "profile": "tiny"})
    assert response.status_code == 400 and "junk.png" in response.content.decode()
    response = ui.post("/segment/", {"images": [png("ok.png")], "classes": "", "profile": "tiny"})
    assert response.status_code == 400 and "a list of classes" in response.content.decode()
    response = ui.post("/segment/", {"images": [png("ok.png")], "classes": "cat", "profile": "tiny",
                                     "overrides": "support.n_images=-3"})
    assert response.status_code == 400 and "n_images" in response.content.decode()
    assert not Run.objects.exists() and not [p for p in media_root.rglob("*") if p.is_file()]


def test_pages_name_the_jobs_input_and_the_prefilter_truthfully(ui: Any, job: Run) -> None:
    """A job on uploaded images is not "(deleted)"; with the category pre-filter off the image page does not say
    classes were "kept by the category pre-filter"."""
    from ovdiff_web.core.models import ImageResult

    listing = ui.get("/runs/")
    assert listing.status_code == 200
    row = listing.content.decode().split(f'data-run-row="{job.pk}"')[1].split("</tr>")[0]
    assert "(deleted)" not in row and "2 images uploaded with the job" in row
    assert "classes given with the job" in row and "dataset classes" not in row  # it has no dataset
    ImageResult.objects.create(run=job, image_id="park.png", width=40, height=32, classes_present=["sky"],
                               kept_classes=["cat", "sky"], pixel_share={"sky": 1.0})
    shown = ui.get(f"/segment/jobs/{job.pk}/image/", {"image": "park.png"}).content.decode()
    assert "Kept by the category pre-filter: cat, sky" in shown and "data-prefilter-off" not in shown
    job.settings["segment"]["category_prefilter"] = False
    job.save(update_fields=["settings"])
    shown = ui.get(f"/segment/jobs/{job.pk}/image/", {"image": "park.png"}).content.decode()
    assert "Kept by the category pre-filter" not in shown and "data-prefilter-off" in shown
