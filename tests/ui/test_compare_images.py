"""The compare page shows one image in every run side by side (oldest to newest, whatever the URL order): its
ground truth, each run's prediction and per-image IoU, the files served through each run's own image routes; and
lists the images whose IoU changed most, each linking to its side-by-side view."""
from __future__ import annotations

import html as html_lib
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client
from PIL import Image

from ovdiff_web.core.models import ImageResult, Run
from tests.ui.factories import make_finished_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_runs(finished_run: Run, dataset: Any, user: Any, media_root: Path) -> tuple[Run, Run]:
    """``finished_run`` and a newer run whose predictions are the ground truth (IoU 1) for every image."""
    from engine.images import save_label_png
    from ovdiff_web.runs.images import load_ground_truth

    newer = make_finished_run(dataset, user, media_root)
    for r in newer.image_results.all():
        save_label_png(load_ground_truth(newer, r.image_id), media_root / r.prediction)
    ImageResult.objects.filter(run=newer).update(iou=1.0)
    return finished_run, newer


def _png(client: Client, url: str) -> np.ndarray:
    response = client.get(url)
    assert response.status_code == 200, url
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_side_by_side_oldest_first_with_ground_truth_and_iou(ui: Any, two_runs: tuple[Run, Run]) -> None:
    older, newer = two_runs
    worst = older.image_results.order_by("iou").first()
    page = ui.get(f"/compare/?runs={newer.pk},{older.pk}&image={worst.image_id}")
    text = html_lib.unescape(page.content.decode())
    section = text[text.index("data-side-by-side"):text.index("data-changes")]
    panels = re.findall(r'data-panel="([^"]+)"', section)
    assert panels == ["ground truth", str(older.pk), str(newer.pk)]
    assert f"IoU <strong>{worst.iou * 100:.1f}</strong>" in section and "IoU <strong>100.0</strong>" in section
    assert f"+{(1 - worst.iou) * 100:.1f}" in section.split("data-image-change>", 1)[1][:20]
    new_row = newer.image_results.get(image_id=worst.image_id)
    urls = dict(re.findall(r'alt="(prediction of run \d+|ground truth of [^"]+)" src="([^"]+)"', section))
    assert urls[f"prediction of run {older.pk}"] == f"/runs/{older.pk}/images/{worst.pk}/pred.png"
    assert urls[f"prediction of run {newer.pk}"] == f"/runs/{newer.pk}/images/{new_row.pk}/pred.png"
    # the files differ as the runs did: the newer prediction is the ground truth, the older is not
    gt = _png(ui, urls[f"ground truth of {worst.image_id}"])
    assert np.array_equal(_png(ui, urls[f"prediction of run {newer.pk}"]), gt)
    assert not np.array_equal(_png(ui, urls[f"prediction of run {older.pk}"]), gt)


def test_largest_changes_link_to_the_side_by_side(ui: Any, two_runs: tuple[Run, Run]) -> None:
    older, newer = two_runs
    text = html_lib.unescape(ui.get(f"/compare/?runs={older.pk},{newer.pk}").content.decode())
    table = text[text.index("data-changes"):]
    listed = re.findall(r'data-change-image="([^"]+)"', table)
    expected = sorted(older.image_results.all(), key=lambda r: (-(1 - r.iou), r.image_id))
    assert listed == [r.image_id for r in expected]
    link = re.search(r'<a href="([^"]+)">' + re.escape(listed[0]), table).group(1)
    assert f"image={listed[0]}" in link and link.endswith("#side-by-side")
    target = html_lib.unescape(ui.get(f"/compare/{link.split('#')[0]}").content.decode())
    assert f'data-side-by-side="{listed[0]}"' in target  # the same runs, that image
    assert re.findall(r'data-panel="([^"]+)"', target) == ["ground truth", str(older.pk), str(newer.pk)]
    # the picker offers the images every run scored
    picker = text[text.index('id="compare-image"'):text.index("</select>", text.index('id="compare-image"'))]
    assert sorted(re.findall(r'<option value="([^"]+)"', picker)) == sorted(older.image_ids)


def test_unknown_image_and_other_datasets(ui: Any, two_runs: tuple[Run, Run], user: Any) -> None:
    older, newer = two_runs
    text = ui.get(f"/compare/?runs={older.pk},{newer.pk}&image=nope.png").content.decode()
    assert "data-image-missing" in text and "data-side-by-side" not in text
    from ovdiff_web.core.models import Dataset

    other = Dataset.objects.create(name="street", format="folder", source="server", root="/nowhere",
                                   status="ready", class_names=["road"], image_ids=["a"], created_by=user)
    Run.objects.filter(pk=newer.pk).update(dataset=other)
    text = ui.get(f"/compare/?runs={older.pk},{newer.pk}&image={older.image_ids[0]}").content.decode()
    assert "data-no-common-images" in text and "data-side-by-side" not in text


def test_second_user_and_anonymous_see_nothing(two_runs: tuple[Run, Run], other_user: Any) -> None:
    older, newer = two_runs
    row = older.image_results.first()
    bob = Client()
    bob.force_login(other_user)
    Run.objects.filter(pk=older.pk).update(name="alice secret sweep")
    text = bob.get(f"/compare/?runs={older.pk},{newer.pk}&image={row.image_id}").content.decode()
    assert "alice secret sweep" not in text
    assert "data-side-by-side" not in text and "no longer exist" not in text  # they exist: bob may not read them
    assert f"Runs {older.pk}, {newer.pk}: not found or not shared with you." in text
    for kind in ("image", "pred", "gt"):
        assert bob.get(f"/runs/{older.pk}/images/{row.pk}/{kind}.png").status_code == 404
    anonymous = Client().get(f"/compare/?runs={older.pk},{newer.pk}&image={row.image_id}")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
