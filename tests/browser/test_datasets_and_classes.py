"""Datasets, class regeneration and segmenting an image on the worker in a real browser against a live server and a real
worker on this session's private queues: upload a zip (a bad file is listed, a zip slip is refused next to the
field with the typed name kept), a server path outside the roots is refused, the class list goes into a new
vocabulary, and "Regenerate support set" with a new seed is run by the worker and its status reaches done."""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import QUEUE_PREFIX, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REGEN_TIMEOUT_MS = 150_000


def _zips(tmp: Path) -> tuple[Path, Path]:
    from engine.evaluation.demo_data import write_demo_dataset

    root = write_demo_dataset(tmp / "src", n_images=3, size=32, seed=0)
    (root / "images" / "demo_002.png").write_bytes(b"this is not an image")
    good = tmp / "demo.zip"
    with zipfile.ZipFile(good, "w") as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, f"demo/{p.relative_to(root).as_posix()}")
    evil = tmp / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.txt", "x")
    return good, evil


def test_datasets_regenerate_and_segment_on_a_worker(page: Any, live_server: Any, celery_worker: Any, settings: Any,
                                                 shared_paths: dict[str, Path], django_user_model: Any) -> None:
    from ovdiff_web.core.models import Dataset, SupportSet

    pg, watch = page
    base = live_server.url
    tmp = shared_paths["tmp"]
    roots = tmp / "roots"
    roots.mkdir()
    settings.OVDIFF_DATASET_ROOTS = [roots.resolve()]
    good, evil = _zips(tmp)
    django_user_model.objects.create_user("alice", password="pw-alice-123")
    pg.goto(f"{base}/login/")
    pg.fill("#id_username", "alice")
    pg.fill("#id_password", "pw-alice-123")
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{base}/runs/")

    pg.click("nav >> text=Datasets")
    pg.wait_for_url(f"{base}/datasets/")
    assert str(roots.resolve()) in pg.locator("[data-roots]").inner_text()

    # a zip slip is refused next to the file field; the typed name stays
    upload = pg.locator("form[data-form=upload]")
    upload.locator("#upload_name").fill("holiday photos")
    upload.locator("#upload_archive").set_input_files(str(evil))
    upload.locator("button[type=submit]").click()
    pg.wait_for_selector("#upload_archive_error")
    assert "archive path" in pg.locator("#upload_archive_error").inner_text()
    assert pg.input_value("#upload_name") == "holiday photos"
    assert not Dataset.objects.exists()
    screenshot(pg, "dataset-upload-refused")

    # a server path outside the allowed roots: error next to the path field, input kept
    path_form = pg.locator("form[data-form=path]")
    path_form.locator("#path_name").fill("elsewhere")
    path_form.locator("#path_path").fill("/etc")
    path_form.locator("button[type=submit]").click()
    pg.wait_for_selector("#path_path_error")
    assert "outside the allowed dataset roots" in pg.locator("#path_path_error").inner_text()
    assert pg.input_value("#path_path") == "/etc"

    # a good zip with one unreadable image: ready, the bad file listed on the detail page
    upload = pg.locator("form[data-form=upload]")
    upload.locator("#upload_name").fill("demo upload")
    upload.locator("#upload_archive").set_input_files(str(good))
    upload.locator("button[type=submit]").click()
    pg.wait_for_url("**/datasets/*/")
    assert "ready" in pg.locator("h1 .badge").inner_text()
    assert "demo_002" in pg.locator("table[aria-label='ingest errors']").inner_text()
    assert "gravel" in pg.locator("table[aria-label=classes]").inner_text()
    screenshot(pg, "dataset-detail")
    pg.goto(f"{base}/datasets/")
    assert "1" == pg.locator("tr[data-dataset='demo upload'] td.num").nth(1).inner_text().strip()
    screenshot(pg, "datasets")

    # class list -> a new vocabulary -> class page
    pg.goto(f"{base}/datasets/{Dataset.objects.get(name='demo upload').pk}/")
    pg.click("form[data-form=import] button[type=submit]")
    pg.wait_for_url("**/vocabularies/*/")
    pg.click("a:text-is('brick')")
    pg.wait_for_url("**/classes/*/")

    # regenerate with a new seed: queued on this session's gpu queue, the worker builds it, status reaches done
    form = pg.locator("form[data-form=regenerate]")
    form.locator("#id_seed").fill("1234")
    form.locator("#id_profile").select_option("tiny")
    form.locator("button[type=submit]").click()
    pg.wait_for_selector("tr[data-job]")
    screenshot(pg, "class-regenerate-queued")
    pg.locator("tr[data-job] .badge", has_text="succeeded").or_(
        pg.locator("tr[data-job] .badge", has_text="failed")).wait_for(timeout=REGEN_TIMEOUT_MS)
    job = pg.locator("tr[data-job]").first.inner_text()
    assert "succeeded" in job, job
    pg.wait_for_selector("section[aria-label^='support set'] figure img")  # the page reloaded when it finished
    assert "succeeded" in pg.locator("tr[data-job]").first.inner_text()
    assert SupportSet.objects.filter(class_name="brick", images__seed__isnull=False).exists()
    pg.wait_for_load_state("networkidle")
    screenshot(pg, "class-regenerated")
    log = (tmp / "worker.log").read_text(errors="replace")
    assert f"{QUEUE_PREFIX}gpu" in log and "tasks.artifacts.regenerate_class" in log  # routed to the private queue

    # the Segment page queues a prediction job on the worker (never run in the web process); its page follows it
    pg.goto(f"{base}/segment/")
    samples = sorted((tmp / "src" / "images").glob("demo_00[01].png"))
    pg.set_input_files("#id_images", [str(p) for p in samples])
    pg.fill("#id_classes", "brick")
    pg.select_option("#id_profile", "tiny")
    pg.click("main form[data-prediction-form] button[type=submit]")
    pg.wait_for_selector("[data-progress-url], [data-finished]")  # the job page with its progress
    screenshot(pg, "segment-queued")
    pg.wait_for_selector("[data-prediction-images] figure", timeout=REGEN_TIMEOUT_MS)  # reloaded when finished
    assert pg.locator("[data-prediction-images] figure").count() == 2
    assert pg.locator("[data-download-coco]").count() == 1
    assert_accessible(pg, base, "prediction job")
    pg.locator("[data-prediction-images] figure a").first.click()
    pg.wait_for_selector("fieldset.legend")
    assert "brick" in pg.locator("fieldset.legend").inner_text()
    pg.wait_for_load_state("networkidle")  # the image is loaded: the click maps to one of its pixels
    pg.locator("[data-explain-url]").focus()  # keyboard picking: a marker, then Enter asks the server
    pg.keyboard.press("Enter")
    pg.wait_for_selector("[data-explain-out] .card", timeout=30_000)  # which prototype decided the pixel
    assert "prototype #" in pg.locator("[data-explain-out]").inner_text()
    assert_accessible(pg, base, "prediction image")
    pg.goto(f"{base}/segment/")
    assert_accessible(pg, base, "segment page")
    log = (tmp / "worker.log").read_text(errors="replace")
    assert "tasks.segment.segment_shard" in log
    screenshot(pg, "segment-done")
    watch.assert_clean()
