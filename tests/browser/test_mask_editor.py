"""The support-mask editor in a real browser: from the class page's "Edit mask" link, a stroke of the brush drawn
with the mouse, the eraser chosen with the keyboard erasing part of it and part of the old foreground, an undone
stroke, a save with the keyboard; then the STORED mask's pixels: the stroke 255, the erased pixels 0, every other
pixel as it was; then a dab painted with the keyboard alone (arrow keys, space) saved as the next version. No request leaves localhost (the script is the project's own file)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.browser.axe import assert_accessible
from tests.browser.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

H, W = 48, 64


def _class(media: Path, owner: Any) -> tuple[Any, Any, np.ndarray]:
    """alice's class with one recorded support image (as a worker records it): foreground = the left half."""
    from engine.support.curation import image_id
    from ovdiff_web.core.models import SupportImage, SupportSet, Vocabulary, VocabularyClass

    vocab = Vocabulary.objects.create(name="pets", owner=owner)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat", order=1)
    sset = SupportSet.objects.create(key="b" * 64, class_name="cat", prompt="cat", profile="tiny", source="user",
                                     status="ready", n_images=1, restricted=True)
    sset.classes.add(cls)
    pixels = np.random.default_rng(1).integers(0, 255, (H, W, 3), dtype=np.uint8)
    fg = np.zeros((H, W), np.uint8)
    fg[:, : W // 2] = 255
    folder = media / "support" / "bb" / sset.key
    folder.mkdir(parents=True)
    Image.fromarray(pixels).save(folder / "0000_image.png")
    Image.fromarray(fg).save(folder / "0000_fg_mask.png")
    rel = f"support/bb/{sset.key}"
    image = SupportImage.objects.create(support_set=sset, index=0, content_id=image_id(pixels),
                                        image=f"{rel}/0000_image.png", fg_mask=f"{rel}/0000_fg_mask.png")
    return cls, image, fg


def _drag(pg: Any, box: dict[str, float], points: list[tuple[int, int]]) -> None:
    """Press the mouse at the first image pixel, move through the others, release (pixel centres)."""
    sx, sy = box["width"] / W, box["height"] / H

    def at(p: tuple[int, int]) -> tuple[float, float]:
        return box["x"] + (p[0] + 0.5) * sx, box["y"] + (p[1] + 0.5) * sy

    pg.mouse.move(*at(points[0]))
    pg.mouse.down()
    for p in points[1:]:
        pg.mouse.move(*at(p), steps=8)
    pg.mouse.up()


def test_paint_erase_undo_and_save_a_support_mask(page: Any, live_server: Any, shared_paths: dict[str, Path],
                                                  django_user_model: Any) -> None:
    from ovdiff_web.core.models import SupportCuration

    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    cls, image, fg = _class(shared_paths["media"], user)
    pg, watch = page
    base = live_server.url
    sign_in(pg, base)
    pg.goto(f"{base}/classes/{cls.pk}/#review")
    with pg.expect_navigation():
        pg.locator("[data-review-card] [data-edit-mask]").first.click()
    pg.locator("[data-mask-editor][data-ready]").wait_for()
    canvas = pg.locator("[data-mask-canvas]")
    box = canvas.bounding_box()
    assert round(box["width"] / W, 3) == 7, "a small image is shown at a whole-number zoom"
    assert pg.locator("[data-brush-size]").input_value() == "3"
    screenshot(pg, "mask-editor-start")
    assert_accessible(pg, base, "mask editor")

    # the brush (the default tool) paints a stroke across the background with the mouse
    _drag(pg, box, [(36, 10), (60, 10)])
    # the keyboard picks the eraser; it erases the stroke's right end and a piece of the old foreground
    canvas.focus()
    outline = pg.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert pg.evaluate("() => document.activeElement.hasAttribute('data-mask-canvas')") and outline == "solid"
    pg.keyboard.press("e")
    assert pg.locator("[data-tool='eraser']").is_checked()
    assert "Eraser" in pg.locator("[data-mask-tool-status]").inner_text()
    _drag(pg, box, [(50, 10), (60, 10)])
    _drag(pg, box, [(5, 30), (20, 30)])
    # one more erasure, taken back with ctrl+z; ] and [ change the size and back
    _drag(pg, box, [(2, 40), (12, 40)])
    pg.keyboard.press("Control+z")
    pg.keyboard.press("]")
    assert pg.locator("[data-brush-size]").input_value() == "4"
    pg.keyboard.press("[")
    assert pg.locator("[data-brush-size]").input_value() == "3"
    pg.keyboard.press("b")
    assert pg.locator("[data-tool='brush']").is_checked()
    pg.keyboard.press("s")
    pg.locator("[data-mask-status]", has_text="Saved").wait_for()
    assert "mask edited by alice" in pg.locator("[data-mask-status]").inner_text()
    screenshot(pg, "mask-editor-saved")

    expected = fg.copy()
    expected[9:12, 35:62] = 255  # the brush: size 3 is a 3x3 disc at each pixel of the stroke
    expected[9:12, 49:62] = 0  # the eraser over the stroke's end
    expected[29:32, 4:22] = 0  # the eraser over the old foreground (the ctrl+z'd stroke at y=40 left no trace)
    version = SupportCuration.objects.get(vocab_class=cls, number=1)
    assert version.created_by == user and "mask edited by alice" in version.summary
    choice = version.masks[image.content_id]
    stored = np.asarray(Image.open(shared_paths["media"] / "painted_masks" / f"{choice[len('painted:'):]}.png"))
    assert stored.shape == (H, W) and set(np.unique(stored)) <= {0, 255}
    wrong = np.argwhere(stored != expected)
    assert not len(wrong), f"{len(wrong)} pixels differ, e.g. (y, x) {wrong[:5].tolist()}"

    # painting without a mouse: on the focused canvas an arrow moves the cursor, space paints there; the second
    # save needs the class's new version, which the script took from the first answer
    canvas.focus()
    for key in ("Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowRight", "ArrowRight"):
        pg.keyboard.press(key)
    where = pg.locator("[data-mask-tool-status]").inner_text()
    x, y = (int(v) for v in where.rsplit(" at ", 1)[1].split(", "))
    assert (x, y) == (37, 40), where  # 3 x 8 + 1 pixels right of where the last (undone) stroke ended
    assert expected[y, x] == 0, "the background: the dab changes the mask"
    pg.keyboard.press("Space")
    pg.keyboard.press("Control+s")
    pg.locator("[data-mask-status]", has_text="support version 2").wait_for()
    expected[y - 1:y + 2, x - 1:x + 2] = 255
    second = SupportCuration.objects.get(vocab_class=cls, number=2).masks[image.content_id]
    stored = np.asarray(Image.open(shared_paths["media"] / "painted_masks" / f"{second[len('painted:'):]}.png"))
    assert (stored == expected).all() and second != choice
    pg.goto(f"{base}/classes/{cls.pk}/#review")
    assert "edited mask" in pg.locator("[data-review-card] [data-decision]").first.inner_text()
    pg.wait_for_load_state("networkidle")
    watch.assert_clean()
