"""The class page's "Use ground truth from a dataset" form in Chromium: ids the dataset does not have are refused
on the page and change nothing; "make them the class's own images" replaces the class's images by the regions,
which a profile without a generator (dinov2-small) then accepts."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import screenshot, sign_in
from tests.ui.factories import make_demo_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ground_truth_replaces_the_class_images_from_the_form(page: Any, live_server: Any, settings: Any,
                                                              django_user_model: Any, tmp_path: Path) -> None:
    from ovdiff_web.core.models import SupportCuration, Vocabulary
    from ovdiff_web.datasets.preview import image_and_labels
    from ovdiff_web.runs.services import check_support_available
    from ovdiff_web.vocabularies import services as vocab

    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    Path(settings.MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
    dataset = make_demo_dataset(tmp_path / "demo", owner=user)
    with_brick = [i for i in dataset.image_ids if (image_and_labels(dataset, i)[1] == 1).sum() >= 16]
    voc = Vocabulary.objects.create(name="walls", owner=user)
    vocab.add_classes(voc, ["brick"], initial=True)
    brick = voc.classes.get()

    pg, watch = page
    sign_in(pg, live_server.url)
    pg.goto(f"{live_server.url}/classes/{brick.pk}/#ground-truth")
    form = pg.locator("form[data-form='ground-truth']")
    form.locator("select[name=dataset]").select_option(str(dataset.pk))
    form.locator("textarea[name=image_ids]").fill("no_such_image")
    form.locator("input[name=mode][value=replace]").check()
    with pg.expect_navigation():
        form.locator("button[type=submit]").click()
    refused = pg.locator("[data-ground-truth-refused]")
    assert refused.is_visible() and "no_such_image" in refused.inner_text()
    brick.refresh_from_db()
    assert not brick.user_support_dir and not SupportCuration.objects.exists()
    assert pg.locator("input[name=mode][value=replace]").is_checked()  # the form keeps what was chosen

    form = pg.locator("form[data-form='ground-truth']")
    form.locator("textarea[name=image_ids]").fill(", ".join(with_brick[:2]))
    with pg.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "replaced the class's images by 2 images with the ground truth of dataset demo" in \
        pg.locator(".messages").inner_text()
    brick.refresh_from_db()
    assert brick.user_support_dir and not SupportCuration.objects.exists()
    check_support_available("dinov2-small", [brick.snapshot()])  # the few-shot profile takes the class now
    screenshot(pg, "class-ground-truth-replaced")
    assert_accessible(pg, live_server.url, "class page after ground truth replaced its images")
    watch.assert_clean()
