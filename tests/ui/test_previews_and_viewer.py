"""Dataset pages preview images with their ground truth (paginated), run galleries get an error layer for the
viewer; images are served to signed-in users only."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.django_db


def _rgba(response: Any) -> np.ndarray:
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))


def test_dataset_preview_shows_images_with_ground_truth(ui: Any, dataset: Any, client: Any) -> None:
    from engine.palette import class_palette
    from ovdiff_web.datasets.preview import image_and_labels

    html = ui.get(f"/datasets/{dataset.pk}/").content.decode()
    assert html.count("data-image-id=") == min(12, dataset.image_count)
    assert f"/datasets/{dataset.pk}/images/0/gt.png" in html and "viewer.js" in html
    image = _rgba(ui.get(f"/datasets/{dataset.pk}/images/0/image.png"))
    gt = _rgba(ui.get(f"/datasets/{dataset.pk}/images/0/gt.png"))
    _, labels = image_and_labels(dataset, dataset.image_ids[0])
    assert image.shape[:2] == gt.shape[:2] == labels.shape
    y, x = np.argwhere(labels != 255)[0]
    assert tuple(gt[y, x, :3]) == tuple(class_palette()[labels[y, x]]) and gt[y, x, 3] == 255
    assert ui.get(f"/datasets/{dataset.pk}/images/999/gt.png").status_code == 404
    assert ui.get(f"/datasets/{dataset.pk}/images/0/other.png").status_code == 404
    client.logout()
    assert client.get(f"/datasets/{dataset.pk}/images/0/image.png").status_code == 302  # to the login page


def test_dataset_preview_is_paginated(ui: Any, media_root: Any, tmp_path: Any, user: Any) -> None:
    from tests.ui.factories import make_demo_dataset

    big = make_demo_dataset(tmp_path / "big", n_images=14, size=16, owner=user)
    first = ui.get(f"/datasets/{big.pk}/").content.decode()
    second = ui.get(f"/datasets/{big.pk}/?ppage=2").content.decode()
    assert first.count("data-image-id=") == 12 and second.count("data-image-id=") == big.image_count - 12
    assert "page 1 of 2" in first


def test_error_layer_marks_wrong_pixels(ui: Any, finished_run: Any) -> None:
    from ovdiff_web.runs.images import load_ground_truth, load_prediction

    results = list(finished_run.image_results.order_by("image_id"))
    html = ui.get(f"/runs/{finished_run.pk}/").content.decode()
    assert f"/runs/{finished_run.pk}/images/{results[1].pk}/error.png" in html
    for r in results[:2]:
        alpha = _rgba(ui.get(f"/runs/{finished_run.pk}/images/{r.pk}/error.png"))[..., 3]
        p, g = load_prediction(r), load_ground_truth(finished_run, r.image_id)
        np.testing.assert_array_equal(alpha > 0, (g != 255) & (p != g))
    assert not _rgba(ui.get(f"/runs/{finished_run.pk}/images/{results[0].pk}/error.png"))[..., 3].any()  # shift 0
