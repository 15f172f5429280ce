"""Pages that do what they show, in a real browser (issue #28's defects): every overlay section of the class page
toggles its own images. No worker needed: the support set is built in-process by the engine (tiny profile) and
recorded as a worker records it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _built_class(user: Any, settings: Any) -> Any:
    """alice's class "cat" with a tiny-profile support set and banks built by the engine and recorded."""
    from ovdiff_web.core.models import Vocabulary, VocabularyClass
    from ovdiff_web.common import engine_bridge
    from ovdiff_web.support.artifacts import record_artifacts

    settings.OVDIFF_PROFILE = "tiny"
    vocab = Vocabulary.objects.create(name="pets", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat", order=1)
    engine_bridge.ENGINE_CACHE.update(store=None, ovdiffs={})  # this test's store
    config = engine_bridge.build_config("tiny").to_dict()
    config["support"].update(n_images=2, num_inference_steps=4)  # small and quick: the pages are under test
    ovd = engine_bridge.ovdiff("tiny", config)
    spec = cls.to_spec()
    record_artifacts("tiny", ovd.support_set(spec), ovd.banks(spec), spec=spec, class_id=cls.pk)
    return cls


def test_every_overlay_section_of_the_class_page_toggles_its_images(page: Any, live_server: Any, settings: Any,
                                                                   shared_paths: dict[str, Path],
                                                                   django_user_model: Any) -> None:
    pg, watch = page
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    cls = _built_class(user, settings)
    sign_in(pg, live_server.url)
    pg.goto(f"{live_server.url}/classes/{cls.pk}/")
    roots = pg.locator("[data-overlay-root]")
    assert roots.count() >= 2, "the review section and the built support set each have overlays"
    checked = 0
    for i in range(roots.count()):
        root = roots.nth(i)
        boxes = root.locator("[data-ovl-toggle]")
        for j in range(boxes.count()):
            box = boxes.nth(j)
            kind = box.get_attribute("data-ovl-toggle")
            images = root.locator(f"img.ovl-{kind}")
            if not images.count():
                continue
            for state in (not box.is_checked(), box.is_checked()):
                box.set_checked(state)
                hidden = images.evaluate_all("els => els.map(e => e.hidden)")
                assert hidden == [not state] * len(hidden), f"section {i}: {kind} toggled to {state}"
            checked += 1
    assert checked >= 4, "toggles with images in several sections were exercised"
    # the probe's case: on the built support set's card (not the first section) the foreground mask shows
    card = pg.locator("section[aria-label^='support set'][data-overlay-root]").first
    card.locator("[data-ovl-toggle='fg_mask']").check()
    assert card.locator("img.ovl-fg_mask").first.is_visible()
    watch.assert_clean()


def test_a_refused_support_upload_shows_its_message_at_the_form(page: Any, live_server: Any, settings: Any,
                                                               shared_paths: dict[str, Path],
                                                               django_user_model: Any) -> None:
    """A text file renamed .png is refused: the page opens at the upload form with the reason in view and in a
    role="alert" region (announced), not at the top with the message ~2,800 px below."""
    from ovdiff_web.core.models import VocabularyClass

    pg, watch = page
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    cls = _built_class(user, settings)
    sign_in(pg, live_server.url)
    pg.goto(f"{live_server.url}/classes/{cls.pk}/")
    notes = shared_paths["tmp"] / "notes.png"
    notes.write_text("<html>these are my notes, not an image</html>\n" * 20)
    form = pg.locator("section:has(#upload-h) form")
    form.locator("input[type=file][name=images]").set_input_files(str(notes))
    form.locator("button[type=submit]").click()
    pg.wait_for_load_state()
    alert = pg.locator("section:has(#upload-h) [role=alert]")
    assert "not an image" in alert.inner_text()
    box = alert.bounding_box()
    viewport = pg.viewport_size
    scroll = pg.evaluate("window.scrollY")
    assert scroll > 0 and pg.evaluate("document.documentElement.scrollHeight") > viewport["height"]
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= viewport["height"], \
        f"the refusal is in view (at y={box}, scrolled {scroll})"
    assert pg.locator("[data-upload-refused-link] a[href='#upload']").count() == 1
    assert VocabularyClass.objects.get(pk=cls.pk).user_support_dir == "", "nothing kept"
    watch.assert_clean()


def _rendered(dialog: Any) -> dict[str, float]:
    return dialog.evaluate("""d => { const im = d.querySelector('.viewer-stage img'), p = d.querySelector('.viewer-port');
        const a = im.getBoundingClientRect(), b = p.getBoundingClientRect();
        return {w: a.width, h: a.height, left: a.left - b.left, top: a.top - b.top, pw: b.width, ph: b.height,
                nw: im.naturalWidth, nh: im.naturalHeight}; }""")


def test_the_viewer_fits_any_image_and_100_percent_is_its_natural_size(page: Any, live_server: Any, settings: Any,
                                                                        shared_paths: dict[str, Path],
                                                                        django_user_model: Any) -> None:
    """A small support image opens fitted to the viewport (whole, centred, the zoom label its real ratio), "fit"
    brings it back after zooming, and 100 % shows one image pixel per CSS pixel."""
    pg, watch = page
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    cls = _built_class(user, settings)
    sign_in(pg, live_server.url)
    pg.goto(f"{live_server.url}/classes/{cls.pk}/")
    pg.locator("section[aria-label^='support set'] .gallery .stack").first.click()
    dialog = pg.locator("dialog.viewer")
    dialog.wait_for()
    pg.wait_for_function("() => document.querySelector('dialog.viewer .viewer-stage img').naturalWidth > 0")

    def assert_fitted() -> None:
        pg.wait_for_timeout(50)
        r = _rendered(dialog)
        assert r["nw"] < r["pw"] and r["nh"] < r["ph"], "a small image: fitting enlarges it"
        assert r["w"] <= r["pw"] + 1 and r["h"] <= r["ph"] + 1, f"the whole image is in the viewport: {r}"
        assert abs(r["w"] - r["pw"]) <= 1 or abs(r["h"] - r["ph"]) <= 1, f"fitted to one side: {r}"
        assert r["left"] >= -1 and r["top"] >= -1, f"not cropped: {r}"
        shown = int(dialog.locator("[data-viewer-zoom]").inner_text().split()[0])
        assert abs(shown - 100 * r["w"] / r["nw"]) <= 1, f"the label is the real ratio ({shown} %): {r}"

    assert_fitted()
    dialog.locator("[data-zoom='1']").click()
    dialog.locator("[data-zoom='1']").click()
    dialog.locator("[data-zoom='0']").click()  # fit
    assert_fitted()
    dialog.locator("[data-zoom='actual']").click()
    r = _rendered(dialog)
    assert dialog.locator("[data-viewer-zoom]").inner_text() == "100 %"
    assert abs(r["w"] - r["nw"]) <= 1 and abs(r["h"] - r["nh"]) <= 1, f"100 % is the natural size: {r}"
    watch.assert_clean()
