"""A run's images as teams look at them, in a real browser: the labelled filter form (class present, IoU range,
sort and order) applied and kept on the next page, and the compare page's side-by-side view of one image in two
runs reached from the "largest IoU change" list, every picture loaded."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import sign_in
from tests.ui.factories import make_demo_dataset, make_finished_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_filter_images_and_compare_one_image(page: Any, live_server: Any, shared_paths: dict[str, Path],
                                             django_user_model: Any) -> None:
    from engine.images import save_label_png
    from ovdiff_web.core.models import ImageResult
    from ovdiff_web.runs.images import load_ground_truth

    pg, watch = page
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    dataset = make_demo_dataset(shared_paths["tmp"] / "demo", owner=user)
    older = make_finished_run(dataset, user, shared_paths["media"])
    newer = make_finished_run(dataset, user, shared_paths["media"])
    for r in newer.image_results.all():  # the newer run predicts the ground truth
        save_label_png(load_ground_truth(newer, r.image_id), shared_paths["media"] / r.prediction)
    ImageResult.objects.filter(run=newer).update(iou=1.0)
    base = live_server.url
    sign_in(pg, base)

    counts: dict[str, int] = {}
    for r in older.image_results.all():
        for name in r.gt_classes:
            counts[name] = counts.get(name, 0) + 1
    name = next(n for n, c in counts.items() if c < older.image_results.count())
    pg.goto(f"{base}/runs/{older.pk}/")
    pg.get_by_label("Class:", exact=True).select_option(name)
    pg.get_by_label("present in:").select_option("gt")
    pg.get_by_label("IoU to:").fill("0.99")
    pg.get_by_label("Order:").select_option("desc")
    pg.get_by_role("button", name="Apply").click()
    pg.wait_for_load_state()
    assert f"class={name}" in pg.url and "iou_max=0.99" in pg.url and "order=desc" in pg.url
    ious = [float(v) for v in pg.locator("[data-gallery] figure").evaluate_all("els => els.map(e => e.dataset.iou)")]
    expected = sorted((r.iou for r in older.image_results.all() if name in r.gt_classes and r.iou <= 0.99),
                      reverse=True)
    assert ious == pytest.approx(expected)
    assert pg.get_by_label("Class:", exact=True).input_value() == name  # the form shows what is applied

    pg.goto(f"{base}/compare/?runs={newer.pk},{older.pk}")
    pg.locator("[data-changes] tbody a").first.click()
    pg.wait_for_selector("[data-side-by-side]")
    panels = pg.locator("[data-side-by-side] figure").evaluate_all("els => els.map(e => e.dataset.panel)")
    assert panels == ["ground truth", str(older.pk), str(newer.pk)]
    pg.wait_for_load_state("networkidle")
    loaded = pg.locator("[data-side-by-side] img").evaluate_all("els => els.map(e => e.complete && e.naturalWidth)")
    assert len(loaded) == 6 and all(loaded), loaded
    watch.assert_clean()
