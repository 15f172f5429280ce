"""Pages that tell the truth, in a real browser: the confusion matrix (extra column, readout, highlight, canvas
with keyboard at 150 classes), the live run header, keyboard pixel picking on the segment page, and axe-core on
every page with zero serious or critical issues. No worker needed: runs are stored as the worker stores them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import screenshot, sign_in
from tests.ui.factories import EXTRA_CLASSES, make_demo_dataset, make_stored_segmentation, make_vocabulary_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_truthful_pages_keyboard_and_axe(page: Any, live_server: Any, shared_paths: dict[str, Path],
                                         django_user_model: Any) -> None:
    from ovdiff_web.core.models import Run, Vocabulary, VocabularyClass

    pg, watch = page
    base = live_server.url
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    dataset = make_demo_dataset(shared_paths["tmp"] / "demo")
    type(dataset).objects.filter(pk=dataset.pk).update(created_by=user)
    run = make_vocabulary_run(dataset, user, shared_paths["media"])
    big = make_vocabulary_run(dataset, user, shared_paths["media"], n_classes=150)
    vocab = Vocabulary.objects.create(name="street", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="bus", prompt="red bus")
    token = make_stored_segmentation(shared_paths["media"], user)
    n = len(run.class_names)
    sign_in(pg, base)

    # the confusion matrix: extra column header, hover readout with row/column highlight, its cell opens
    pg.goto(f"{base}/runs/{run.pk}/")
    assert pg.locator("svg[data-cm-svg] text.cm-col.extra").text_content() == "no dataset label"
    pg.locator(f"svg[data-cm-svg] rect[data-gt='1'][data-pred='{n}']").hover()
    assert "predicted no dataset label" in pg.locator("[data-cm-readout]").inner_text().replace("\u201c", "").replace("\u201d", "")
    assert pg.locator("svg[data-cm-svg] text.cm-row.hl").text_content() == run.class_names[1]
    assert pg.locator(".cm-band").first.is_visible()
    legend = pg.locator("details:has([data-class-toggle])")
    legend.locator("summary").click()
    for name in EXTRA_CLASSES:
        assert name in legend.inner_text()
    screenshot(pg, "truth-run-detail")
    assert_accessible(pg, base, "run detail")

    # every gallery image opens a zoomable viewer with its layers
    pg.locator("[data-gallery] .stack").first.click()
    dialog = pg.locator("dialog.viewer")
    dialog.wait_for()
    assert dialog.locator("[data-viewer-layer]").evaluate_all("els => els.map(e => e.dataset.viewerLayer)") == \
        ["prediction", "ground truth", "errors"]
    dialog.locator("[data-viewer-layer='errors']").check()
    assert dialog.locator(".viewer-stage img.layer").nth(2).is_visible()
    dialog.locator(".viewer-port").focus()
    pg.keyboard.press("1")  # actual size
    assert dialog.locator("[data-viewer-zoom]").inner_text() == "100 %"
    pg.keyboard.press("+")
    assert dialog.locator("[data-viewer-zoom]").inner_text() == "150 %"
    screenshot(pg, "truth-viewer")
    assert_accessible(pg, base, "viewer")
    pg.keyboard.press("Escape")
    assert not dialog.is_visible()
    pg.locator(f"svg[data-cm-svg] a[href$='/confusion/1/{n}/']").click()
    pg.wait_for_selector("[data-image-id]")
    assert pg.locator("img.ovl-cell").first.is_visible()
    assert "zebra" in pg.locator("[data-extra-classes]").inner_text()
    assert_accessible(pg, base, "confusion cell")

    # 150 classes: a canvas, keyboard readout, Enter opens a cell
    pg.goto(f"{base}/runs/{big.pk}/")
    canvas = pg.locator("canvas[data-cm-canvas]")
    canvas.focus()
    pg.keyboard.press("ArrowDown")
    assert "ground truth \u201cbrick\u201d \u2192 predicted \u201cbackground\u201d" in pg.locator("[data-cm-readout]").inner_text()
    pg.keyboard.press("ArrowRight")
    pg.keyboard.press("Enter")
    pg.wait_for_url(f"**/runs/{big.pk}/confusion/1/1/")
    assert_accessible(pg, base, "confusion cell 150")
    pg.goto(f"{base}/runs/{big.pk}/")
    assert_accessible(pg, base, "run detail 150 classes")

    # live header: the badge follows the run and shows elapsed time, without a reload
    Run.objects.filter(pk=run.pk).update(status=Run.Status.QUEUED, finished_at=None)
    pg.goto(f"{base}/runs/{run.pk}/")
    assert pg.locator("h1 .badge").inner_text() == "queued"
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    pg.locator("h1 .badge", has_text="running").wait_for(timeout=10_000)
    assert "elapsed" in pg.locator(f"[data-run-elapsed='{run.pk}']").inner_text()
    Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCEEDED)
    pg.locator("h1 .badge", has_text="succeeded").wait_for(timeout=15_000)

    # segment page: keyboard pixel picking with a visible marker
    pg.goto(f"{base}/segment/{token}/")
    view = pg.locator("[data-explain-url]")
    view.focus()
    marker = pg.locator("[data-pixel-marker]")
    assert marker.is_visible() and view.get_attribute("data-pixel") == "30,20"
    for _ in range(3):
        pg.keyboard.press("ArrowLeft")
    pg.keyboard.press("Shift+ArrowDown")
    assert view.get_attribute("data-pixel") == "27,30"
    pg.keyboard.press("Enter")
    pg.locator("[data-explain-out]", has_text="Pixel (27, 30) is \u201cbrick\u201d").wait_for()
    assert_accessible(pg, base, "segment result")

    # delete with a confirmation page that says what happens; a dataset runs read is refused
    pg.goto(f"{base}/datasets/{dataset.pk}/")
    pg.locator("[data-manage] summary").click()
    pg.click("[data-delete-link]")
    pg.wait_for_selector("[data-refused]")
    assert_accessible(pg, base, "refused delete")
    pg.goto(f"{base}/classes/{cls.pk}/")
    pg.locator("[data-manage] summary").click()
    pg.click("[data-delete-link]")
    pg.once("dialog", lambda d: d.accept())
    pg.click("[data-delete]")
    pg.wait_for_url(f"**/vocabularies/{vocab.pk}/")
    assert not VocabularyClass.objects.filter(pk=cls.pk).exists()
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="bus", prompt="red bus")

    # every other page
    for path in ("/runs/", f"/runs/?clone={run.pk}", f"/runs/{run.pk}/delete/", "/compare/?runs=%d,%d" % (run.pk, big.pk), "/vocabularies/", f"/vocabularies/{vocab.pk}/",
                 f"/classes/{cls.pk}/", "/datasets/", f"/datasets/{dataset.pk}/", "/segment/", "/workers/"):
        pg.goto(base + path)
        pg.wait_for_load_state("networkidle")
        assert_accessible(pg, base, path)
    pg.goto(f"{base}/datasets/")
    pg.click("form[data-form=upload] button[type=submit]")  # errors shown: still accessible
    pg.wait_for_selector("#upload_name_error")
    assert_accessible(pg, base, "datasets with errors")
    pg.click("header form button")  # log out
    pg.wait_for_url("**/login/")
    assert_accessible(pg, base, "login")
    watch.assert_clean()
