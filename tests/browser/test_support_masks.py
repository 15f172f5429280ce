"""Support masks on the class page in a real browser: an image uploaded with its mask joins the set, the rebuilt
set shows its foreground "given by user" (the others "proposed by MaskCut"), and one click on a proposal's
thumbnail takes that proposed mask. No worker: the set is built in-process by the engine (tiny profile, a small
config) and recorded as a worker records it."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.browser.axe import assert_accessible
from tests.browser.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def test_upload_an_image_with_its_mask_and_take_a_proposal_by_its_thumbnail(
        page: Any, live_server: Any, settings: Any, shared_paths: dict[str, Path], django_user_model: Any) -> None:
    from ovdiff_web.common import engine_bridge
    from ovdiff_web.core.models import Vocabulary, VocabularyClass
    from ovdiff_web.support import curation
    from ovdiff_web.support.artifacts import record_artifacts
    from tasks.support import regenerate_class

    pg, watch = page
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    settings.OVDIFF_PROFILE = "tiny"
    cls = VocabularyClass.objects.create(vocabulary=Vocabulary.objects.create(name="pets", owner=user), name="cat",
                                         order=1)
    engine_bridge.ENGINE_CACHE.update(store=None, ovdiffs={})
    config = engine_bridge.build_config("tiny").to_dict()
    config["support"].update(n_images=2, num_inference_steps=4)  # small and quick: the page is under test
    ovd = engine_bridge.ovdiff("tiny", config)
    spec = cls.to_spec()
    record_artifacts("tiny", ovd.support_set(spec), ovd.banks(spec), spec=spec, class_id=cls.pk)

    photo = np.random.default_rng(3).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[8:30, 10:34] = 255
    sign_in(pg, live_server.url)
    pg.goto(f"{live_server.url}/classes/{cls.pk}/")
    form = pg.locator("#upload form")
    form.locator("input[name=images]").set_input_files([{"name": "tabby.png", "mimeType": "image/png",
                                                         "buffer": _png(photo)}])
    form.locator("input[name=masks]").set_input_files([{"name": "tabby.png", "mimeType": "image/png",
                                                        "buffer": _png(mask)}])
    form.locator("input[name=add_to_set]").check()
    with pg.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "1 with its mask" in pg.locator(".messages").inner_text()
    cls.refresh_from_db()
    assert cls.support_version == 1

    regenerate_class.apply(args=(cls.pk, "tiny", config)).get()  # what "Rebuild" queues, run here
    pg.reload()  # the page of the upload, now with the rebuilt set
    given = pg.locator("#review [data-review-card]").filter(has=pg.locator("[data-mask-source='given']"))
    assert given.count() == 1 and "given by user" in given.locator("[data-decision]").inner_text()
    assert given.locator("[data-take-proposal]").count() == 0, "a given mask has no proposals to choose from"
    proposed = pg.locator("#review [data-review-card]").filter(has=pg.locator("[data-take-proposal]")).first
    assert "proposed by MaskCut" in proposed.locator("[data-decision]").inner_text()
    thumbs = proposed.locator("img[data-proposal-thumb]")
    assert thumbs.count() == proposed.locator("[data-take-proposal]").count() >= 1
    for src in thumbs.evaluate_all("els => els.map(e => e.getAttribute('src'))"):  # lazy images: fetch each
        answer = pg.request.get(f"{live_server.url}{src}")
        assert answer.status == 200 and answer.headers["content-type"] == "image/png", src
    screenshot(pg, "class-support-masks")
    assert_accessible(pg, live_server.url, "class page with support masks")

    last = proposed.locator("[data-take-proposal]").count() - 1
    image = proposed.get_attribute("data-image")
    with pg.expect_navigation():
        proposed.locator(f"[data-take-proposal='{last}']").click()
    assert f"proposed mask {last}" in pg.locator("[data-versions]").inner_text()
    card = pg.locator(f"#review [data-review-card][data-image='{image}']")
    assert card.locator(f"[data-take-proposal='{last}']").get_attribute("aria-pressed") == "true"
    cls.refresh_from_db()
    assert curation.current(cls).masks == {image: f"instance:{last}"} and cls.support_version == 2
    watch.assert_clean()
