"""Runs list, queue form, run detail, progress JSON, cancel, confusion cells, overlays and exports."""
from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ovdiff_web.core.models import Run

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client: Any, media_root: Any) -> None:
    response = client.get("/runs/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/login/").status_code == 200


def test_login_and_logout(client: Any, user: Any, media_root: Any) -> None:
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302
    assert client.get("/runs/").status_code == 200
    bad = client.post("/login/", {"username": "alice", "password": "nope"})  # still signed in: redirect
    client.post("/logout/")
    assert client.get("/runs/").status_code == 302
    wrong = client.post("/login/", {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200 and b"correct username and password" in wrong.content
    assert bad.status_code in (200, 302)


def test_run_list_shows_status_progress_miou_and_random_label(ui: Any, finished_run: Run) -> None:
    html = ui.get("/runs/").content.decode()
    assert f"#{finished_run.pk}" in html
    assert "succeeded" in html and "random weights" in html
    assert f"{finished_run.miou * 100:.1f}" in html
    assert 'data-finished="true"' in html  # no polling for a finished run
    assert "csrfmiddlewaretoken" in html


def test_queue_form_keeps_input_and_shows_field_errors(ui: Any, dataset: Any, user: Any) -> None:
    response = ui.post("/runs/", {"dataset": dataset.pk, "profile": "tiny", "limit": "0", "overrides": "{not json"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "not valid JSON" in html and "greater than or equal to 1" in html
    assert "{not json" in html  # what the user typed is kept
    assert Run.objects.count() == 0


def test_queue_form_unknown_setting_is_a_field_error(ui: Any, dataset: Any) -> None:
    response = ui.post("/runs/", {"dataset": dataset.pk, "profile": "tiny", "overrides": '{"no_such_section": 1}'})
    assert response.status_code == 400
    assert "no_such_section" in response.content.decode()
    assert Run.objects.count() == 0


def test_run_detail_sections(ui: Any, finished_run: Run) -> None:
    html = ui.get(f"/runs/{finished_run.pk}/").content.decode()
    for needle in ("Random-weight output", "Per-class IoU", "confusion matrix heatmap", "per-class IoU bar chart",
                   "worst IoU first", "segmenter.use_pamr", "metrics.csv", "predictions.zip", "data-opacity"):
        assert needle in html, needle
    # a non-empty off-diagonal cell links to its images
    assert f"/runs/{finished_run.pk}/confusion/" in html


def test_run_page_says_what_the_data_is(ui: Any, finished_run: Run) -> None:
    html = ui.get(f"/runs/{finished_run.pk}/").content.decode()
    assert "dataset-description" not in html  # none given: nothing shown
    type(finished_run.dataset).objects.filter(pk=finished_run.dataset_id).update(
        description="Real photographs shipped by scikit-image <and> friends")
    html = ui.get(f"/runs/{finished_run.pk}/").content.decode()
    assert 'id="dataset-description"' in html and "shipped by scikit-image &lt;and&gt; friends" in html


def test_class_table_sorts_by_iou(ui: Any, finished_run: Run) -> None:
    present = {k: v for k, v in finished_run.per_class_iou.items() if v is not None}
    worst, best = min(present, key=present.get), max(present, key=present.get)
    asc = ui.get(f"/runs/{finished_run.pk}/?csort=iou").content.decode()
    desc = ui.get(f"/runs/{finished_run.pk}/?csort=-iou").content.decode()
    table = lambda html: html[html.index("data-class-table"):html.index("</table>", html.index("data-class-table"))]  # noqa: E731
    assert table(asc).index(f"<td>{worst}</td>") < table(asc).index(f"<td>{best}</td>")
    assert table(desc).index(f"<td>{best}</td>") < table(desc).index(f"<td>{worst}</td>")


def test_gallery_sorts_worst_first(ui: Any, finished_run: Run) -> None:
    results = list(finished_run.image_results.order_by("iou"))
    html = ui.get(f"/runs/{finished_run.pk}/?gsort=iou").content.decode()
    positions = [html.index(f'data-image-id="{r.image_id}"') for r in results]
    assert positions == sorted(positions)
    html = ui.get(f"/runs/{finished_run.pk}/?gsort=-iou").content.decode()
    positions = [html.index(f'data-image-id="{r.image_id}"') for r in results]
    assert positions == sorted(positions, reverse=True)


def test_progress_json(ui: Any, finished_run: Run) -> None:
    data = ui.get(f"/runs/{finished_run.pk}/progress.json").json()
    assert data["finished"] is True and data["status"] == "succeeded"
    assert [s["name"] for s in data["stages"]] == ["support", "banks", "segment", "metrics"]
    assert data["random_weights"] is True


def test_overlays_are_transparent_pngs_and_hide_classes(ui: Any, finished_run: Run) -> None:
    result = finished_run.image_results.order_by("image_id").first()
    base = f"/runs/{finished_run.pk}/images/{result.pk}"
    image = Image.open(io.BytesIO(ui.get(f"{base}/image.png").content))
    assert image.size == (result.width, result.height)
    gt = np.asarray(Image.open(io.BytesIO(ui.get(f"{base}/gt.png").content)))
    assert gt.shape == (result.height, result.width, 4) and gt[..., 3].max() == 255
    everything = ",".join(str(i) for i in range(len(finished_run.class_names)))
    hidden = np.asarray(Image.open(io.BytesIO(ui.get(f"{base}/pred.png?hide={everything}").content)))
    assert hidden[..., 3].max() == 0
    assert ui.get(f"{base}/nonsense.png").status_code == 404


def test_confusion_cell_lists_images_with_that_confusion(ui: Any, finished_run: Run) -> None:
    matrix = np.array(finished_run.confusion)
    off = np.argwhere((matrix > 0) & ~np.eye(len(matrix), dtype=bool))
    gt, pred = (int(v) for v in off[0])
    html = ui.get(f"/runs/{finished_run.pk}/confusion/{gt}/{pred}/").content.decode()
    assert finished_run.class_names[gt] in html and "data-image-id" in html
    assert ui.get(f"/runs/{finished_run.pk}/confusion/99/0/").status_code == 404


def test_exports(ui: Any, finished_run: Run) -> None:
    data = json.loads(ui.get(f"/runs/{finished_run.pk}/export/metrics.json").content)
    assert data["miou"] == pytest.approx(finished_run.miou) and data["random_weights"] is True
    assert len(data["images"]) == finished_run.image_results.count()
    csv_text = ui.get(f"/runs/{finished_run.pk}/export/metrics.csv").content.decode()
    assert csv_text.startswith('"# Produced with randomly') and "\nclass," in csv_text
    response = ui.get(f"/runs/{finished_run.pk}/export/predictions.zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert "metrics.json" in names and "RANDOM_WEIGHTS.txt" in names
    assert sum(n.startswith("predictions/") for n in names) == finished_run.image_results.count()
    assert ui.get(f"/runs/{finished_run.pk}/export/metrics.xml").status_code == 404


def test_failed_run_shows_error_and_traceback(ui: Any, dataset: Any, user: Any) -> None:
    run = Run.objects.create(dataset=dataset, created_by=user, profile="paper", status=Run.Status.FAILED,
                             error="MissingModelError: set OVDIFF_GENERATOR", traceback="Traceback (most recent call last)")
    html = ui.get(f"/runs/{run.pk}/").content.decode()
    assert "This run failed" in html and "set OVDIFF_GENERATOR" in html and "Random-weight output" not in html
    assert "Traceback" not in html  # server internals are for staff only
    user.is_staff = True
    user.save()
    assert "Traceback" in ui.get(f"/runs/{run.pk}/").content.decode()


def test_deleted_things_are_404(ui: Any, finished_run: Run) -> None:
    pk = finished_run.pk
    finished_run.delete()
    for url in (f"/runs/{pk}/", f"/runs/{pk}/progress.json", f"/runs/{pk}/export/metrics.json",
                "/vocabularies/999/", "/classes/999/", "/files/../../etc/passwd", "/files/nothing.png"):
        assert ui.get(url).status_code == 404, url


def test_cancel_queued_run(ui: Any, dataset: Any, user: Any) -> None:
    run = Run.objects.create(dataset=dataset, created_by=user, profile="tiny", status=Run.Status.QUEUED)
    assert ui.get(f"/runs/{run.pk}/cancel/").status_code == 405
    response = ui.post(f"/runs/{run.pk}/cancel/", {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    run.refresh_from_db()
    assert run.cancel_requested and run.status == Run.Status.CANCELLED


def test_csrf_is_enforced(client: Any, user: Any, dataset: Any) -> None:
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    run = Run.objects.create(dataset=dataset, created_by=user, profile="tiny", status=Run.Status.QUEUED)
    assert strict.post(f"/runs/{run.pk}/cancel/").status_code == 403
