"""Run detail in a real browser on a finished run (no worker needed): sortable IoU table, confusion cell link,
gallery worst-first, overlay toggles, live progress polling that stops when the run is done."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.ui.factories import make_demo_dataset, make_finished_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_run_detail_interactions(page: Any, live_server: Any, shared_paths: dict[str, Path],
                                 django_user_model: Any) -> None:
    from ovdiff_web.core.models import Run, RunStage

    pg, watch = page
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    run = make_finished_run(make_demo_dataset(shared_paths["tmp"] / "demo", owner=user), user, shared_paths["media"])
    base = live_server.url
    pg.goto(f"{base}/login/")
    pg.fill("#id_username", "alice")
    pg.fill("#id_password", "pw-alice-123")
    pg.click("button[type=submit]")
    pg.goto(f"{base}/runs/{run.pk}/")
    assert pg.locator(".banner.random").count() == 1

    pg.click("[data-sort-iou]")  # -> descending
    pg.wait_for_load_state()
    ious = [float(t) for t in pg.locator("[data-class-table] tbody td.num").all_inner_texts() if t != "—"]
    assert ious == sorted(ious, reverse=True)

    pg.click("[data-gsort='iou']")
    ious = [float(v) for v in pg.locator("[data-gallery] figure").evaluate_all("els => els.map(e => e.dataset.iou)")]
    assert ious == sorted(ious)
    first = pg.locator("[data-gallery] figure").first
    pg.uncheck("[data-ovl-toggle='pred']")
    assert not first.locator("img.ovl-pred").is_visible()
    pg.check("[data-ovl-toggle='gt']")
    assert first.locator("img.ovl-gt").is_visible()
    pg.click("details:has([data-class-toggle]) > summary")
    pg.click("[data-classes-none]")
    assert "hide=0,1,2,3" in first.locator("img.ovl-gt").get_attribute("src")
    pg.wait_for_load_state("networkidle")
    screenshot(pg, "run-detail-finished")

    pg.locator("svg[aria-label='confusion matrix heatmap'] a").first.click()
    pg.wait_for_selector("[data-image-id]")
    screenshot(pg, "confusion-cell")

    # live progress: a running run polls, the bar follows the database, polling stops when finished
    live = Run.objects.create(dataset=run.dataset, profile="tiny", status=Run.Status.RUNNING, created_by=user)
    stage = RunStage.objects.create(run=live, name="segment", order=0, total=4, done=1, status="running")
    pg.goto(f"{base}/runs/{live.pk}/")
    RunStage.objects.filter(pk=stage.pk).update(done=4, status="done")
    Run.objects.filter(pk=live.pk).update(status=Run.Status.SUCCEEDED)
    pg.locator("h1 .badge", has_text="succeeded").wait_for(timeout=15_000)  # reloaded on finish
    assert pg.locator(".stage.s-done").count() == 1
    watch.assert_clean()
