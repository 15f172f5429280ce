"""The dashboard in a real browser against a live server and a real Celery worker: log in, create a vocabulary by
pasting names, flip a thing/stuff label (persists after reload), queue a tiny evaluation, watch it finish, sort
the gallery worst-first, toggle overlays; no console errors and no request leaving localhost."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RUN_TIMEOUT_MS = 150_000


@pytest.fixture
def demo_dataset(shared_paths: dict[str, Path]) -> Any:
    from engine.evaluation.demo_data import write_demo_dataset
    from ovdiff_web.core.models import Dataset
    from ovdiff_web.datasets.services import ingest

    root = write_demo_dataset(shared_paths["tmp"] / "demo", n_images=3, size=48, seed=0)
    ds = ingest(Dataset.objects.create(name="demo", format="folder", source=Dataset.Source.SERVER, root=str(root),
                                       split="val", visibility="public"))  # readable by every signed-in user
    assert ds.status == Dataset.Status.READY, ds.ingest_errors
    return ds


def _login(pg: Any, base: str) -> None:
    pg.goto(f"{base}/runs/")
    assert "/login/" in pg.url
    pg.fill("#id_username", "alice")
    pg.fill("#id_password", "pw-alice-123")
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{base}/runs/")


def test_dashboard_end_to_end(page: Any, live_server: Any, celery_worker: Any, demo_dataset: Any,
                              django_user_model: Any) -> None:
    pg, watch = page
    base = live_server.url
    django_user_model.objects.create_user("alice", password="pw-alice-123")
    _login(pg, base)
    screenshot(pg, "runs-empty")

    # vocabulary from pasted names; a bad submit keeps what was typed
    pg.goto(f"{base}/vocabularies/")
    pg.fill("#id_class_names", "brick\ngrass\ngravel")
    pg.click("form.stack button[type=submit]")
    assert pg.locator(".field.has-error #id_name").count() == 1
    assert pg.input_value("#id_class_names") == "brick\ngrass\ngravel"
    pg.fill("#id_name", "demo-vocab")
    pg.click("form.stack button[type=submit]")
    pg.wait_for_selector("tr[data-class='gravel']")
    assert pg.locator("tr[data-class]").count() == 3
    screenshot(pg, "vocabulary")

    # flip a label: persists after reload, shows who decided it
    row = pg.locator("tr[data-class='grass']")
    before = row.locator("[data-label]").inner_text()
    row.locator("[data-flip]").click()
    pg.wait_for_load_state()
    pg.reload()
    row = pg.locator("tr[data-class='grass']")
    after = row.locator("[data-label]").inner_text()
    assert {before, after} == {"thing", "stuff"}
    assert "alice" in row.locator("[data-source]").inner_text()

    # queue a tiny evaluation and watch it finish
    pg.goto(f"{base}/runs/")
    pg.select_option("#id_dataset", label="demo")
    pg.select_option("#id_vocabulary", label="demo-vocab")
    pg.select_option("#id_profile", "tiny")
    pg.fill("#id_limit", "2")
    pg.click("section.card form button[type=submit]")
    pg.wait_for_url("**/runs/*/")
    screenshot(pg, "run-progress")
    pg.locator("h1 .badge", has_text="succeeded").or_(pg.locator("h1 .badge", has_text="failed")) \
        .wait_for(timeout=RUN_TIMEOUT_MS)
    status = pg.locator("h1 .badge").inner_text()
    error = pg.locator(".banner.error").all_inner_texts()
    assert status == "succeeded", f"run ended {status}: {error}"
    assert pg.locator(".stage.s-done").count() == 4
    assert pg.locator(".banner.random").count() >= 1  # tiny profile output is labelled as random-weight output
    screenshot(pg, "run-detail")

    # gallery worst IoU first
    pg.click("[data-gsort='-iou']")
    pg.click("[data-gsort='iou']")
    pg.wait_for_selector("[data-gallery] figure")
    ious = [float(v) for v in pg.locator("[data-gallery] figure").evaluate_all(
        "els => els.map(e => e.dataset.iou)") if v != ""]
    assert len(ious) == 2 and ious == sorted(ious)

    # overlays: prediction off, ground truth on, opacity and a class toggle
    first = pg.locator("[data-gallery] figure").first
    assert first.locator("img.ovl-pred").is_visible()
    pg.uncheck("[data-ovl-toggle='pred']")
    assert not first.locator("img.ovl-pred").is_visible()
    pg.check("[data-ovl-toggle='gt']")
    assert first.locator("img.ovl-gt").is_visible()
    pg.fill("[data-opacity]", "90")
    assert pg.locator("[data-overlay-root]").evaluate("e => e.style.getPropertyValue('--ovl-opacity')") == "0.9"
    pg.click("details:has([data-class-toggle]) > summary")
    pg.uncheck("[data-class-toggle='1']")
    assert "hide=1" in first.locator("img.ovl-gt").get_attribute("src")
    pg.wait_for_load_state("networkidle")
    screenshot(pg, "run-gallery-overlays")

    # the other main pages render cleanly
    for path, name in (("/runs/", "runs"), ("/compare/?runs=1", "compare"), ("/workers/", "workers"),
                       ("/segment/", "segment")):
        pg.goto(base + path)
        screenshot(pg, name)
    pg.goto(f"{base}/workers/")  # answers at once; the page reloads itself when the workers' answer is in
    pg.locator("table[aria-label=workers]").wait_for(timeout=15_000)
    assert "browser-" in pg.locator("table[aria-label=workers]").inner_text()  # the live worker is listed
    from tests.browser.conftest import QUEUE_PREFIX

    assert f"{QUEUE_PREFIX}gpu" in pg.locator("[data-queues]").inner_text()  # the configured queue names
    watch.assert_clean()
