"""What the probe's re-run found on two pages, used in a real browser: the class page names the profile a rebuild
uses (the server's default until a run read the vocabulary, then that run's profile, preselected in the regenerate
picker), and the compare page, picked with its run picker, says when no image was scored by every run instead of
offering an empty image picker, with one random-weight banner for runs that share the note. No worker needed."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import screenshot, sign_in
from tests.ui.factories import make_demo_dataset, make_finished_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_class_page_names_the_rebuild_profile(page: Any, live_server: Any, settings: Any,
                                              shared_paths: dict[str, Path], django_user_model: Any) -> None:
    from ovdiff_web.core.models import Run, Vocabulary, VocabularyClass

    pg, watch = page
    settings.OVDIFF_PROFILE = "tiny"
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    vocab = Vocabulary.objects.create(name="pets", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat", order=1)
    sign_in(pg, live_server.url)
    pg.goto(f"{live_server.url}/classes/{cls.pk}/")
    assert "the server's default profile" in pg.locator("[data-rebuild-profile]").inner_text()
    picker = pg.locator("select#id_profile")
    assert picker.input_value() == "tiny"
    picker.select_option("dinov2-small")  # the picker takes another profile (nothing is queued here)
    assert picker.input_value() == "dinov2-small"

    dataset = make_demo_dataset(shared_paths["tmp"] / "ds", owner=user)
    Run.objects.create(dataset=dataset, created_by=user, vocabulary=vocab, profile="dinov2-small",
                       status=Run.Status.SUCCEEDED)
    pg.reload()
    shown = pg.locator("[data-rebuild-profile]").inner_text()
    assert "profile dinov2-small (the vocabulary's latest run)" in shown
    assert pg.locator("select#id_profile").input_value() == "dinov2-small"
    screenshot(pg, "class-rebuild-profile")
    watch.assert_clean()


def test_compare_picker_and_runs_that_share_no_image(page: Any, live_server: Any, shared_paths: dict[str, Path],
                                                    django_user_model: Any) -> None:
    pg, watch = page
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    dataset = make_demo_dataset(shared_paths["tmp"] / "ds", owner=user)
    older = make_finished_run(dataset, user, shared_paths["media"])
    newer = make_finished_run(dataset, user, shared_paths["media"])
    first, *rest = list(older.image_results.order_by("image_id").values_list("image_id", flat=True))
    older.image_results.exclude(image_id=first).delete()  # the older run scored only the first image,
    newer.image_results.filter(image_id=first).delete()  # the newer one every other image
    sign_in(pg, live_server.url)
    pg.goto(f"{live_server.url}/compare/")
    pg.select_option("#runs-select", [str(newer.pk), str(older.pk)])
    pg.locator("form[aria-label='choose runs'] button[type=submit]").click()
    pg.wait_for_load_state("networkidle")
    assert pg.locator("[data-direction]").inner_text().count("#") >= 2
    assert pg.locator(".banner.random").count() == 1, "the same random-weight note is said once"
    assert "No image was scored by every one of these runs" in pg.locator("[data-no-common-images]").inner_text()
    assert pg.locator("#compare-image").count() == 0, "no image picker without an image to pick"
    screenshot(pg, "compare-no-common-image")
    watch.assert_clean()
