"""Painted support masks (the mask editor's ``painted:<mask id>`` choice): a PNG of 0/255 at the image's natural
size is the only mask accepted, it becomes the image's foreground with its eroded complement as background, its id
follows its pixels (so the curated key changes with every edit) and the folder it is read from is no part of a key."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from engine.class_specs import class_specs
from engine.errors import BadInputError
from engine.pipeline import OVDiff
from engine.profiles import default_config
from engine.storage.store import ArtifactStore
from engine.support.curation import (PAINTED, chosen_fg_bg, curation_from_dict, image_id, mask_id, painted_file,
                                     painted_files, read_mask_png)
from engine.types import ClassSpec, SupportImage


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(array)
    (img.convert(mode) if mode else img).save(buf, format="PNG")
    return buf.getvalue()


def _mask(h: int = 20, w: int = 30) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[5:15, 8:20] = True
    return m


def test_read_mask_png_takes_0_255_of_the_exact_size_in_any_plain_mode():
    m = _mask()
    grey = m.astype(np.uint8) * 255
    for raw in (_png(grey), _png(grey, "RGB"), _png(grey, "RGBA"), _png(grey, "1"), _png(grey, "P")):
        assert (read_mask_png(raw, (20, 30)) == m).all()
    with pytest.raises(BadInputError, match="30x20 pixels; the support image is 31x20"):
        read_mask_png(_png(grey), (20, 31))
    soft = grey.copy()
    soft[0, 0] = 128
    with pytest.raises(BadInputError, match="other than 0 and 255 .e.g. 128"):
        read_mask_png(_png(soft), (20, 30))
    with pytest.raises(BadInputError, match="not a readable PNG"):
        read_mask_png(b"not a png at all", (20, 30))
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, format="JPEG")
    with pytest.raises(BadInputError, match="a JPEG file, not a PNG"):
        read_mask_png(buf.getvalue(), (20, 30))
    with pytest.raises(BadInputError, match="empty"):
        read_mask_png(b"", (20, 30))


def test_a_painted_choice_is_the_foreground_with_an_eroded_complement_as_background(tmp_path):
    m = _mask()
    choice = PAINTED + mask_id(m)
    assert len(choice) == 32 and painted_file(choice) == f"painted_masks/{mask_id(m)}.png"
    (tmp_path / "painted_masks").mkdir()
    Image.fromarray(m.astype(np.uint8) * 255).save(tmp_path / painted_file(choice))
    image = SupportImage(index=0, image=np.zeros((20, 30, 3), np.uint8), attribution=None,
                         fg_mask=~m, bg_mask=m, instance_masks=[~m])
    fg, bg = chosen_fg_bg(image, choice, default_config("tiny").masks, str(tmp_path / "painted_masks"))
    assert (fg == m).all()
    assert not (bg & m).any() and bg[0, 0] and not bg[4, 10], "bg: the complement, eroded away from the object"
    with pytest.raises(BadInputError, match="missing"):
        chosen_fg_bg(image, PAINTED + "0" * 24, default_config("tiny").masks, str(tmp_path / "painted_masks"))
    small = SupportImage(index=3, image=np.zeros((10, 10, 3), np.uint8), attribution=None)
    with pytest.raises(BadInputError, match="image 3"):
        chosen_fg_bg(small, choice, default_config("tiny").masks, str(tmp_path / "painted_masks"))
    with pytest.raises(BadInputError):
        curation_from_dict({"masks": {"x": PAINTED + "../../etc/passwd"}})
    assert painted_files({"masks": {"a": choice, "b": "instance:0"}}) == [painted_file(choice)]


def test_an_edited_mask_changes_the_curated_key_and_is_what_the_rebuild_uses(tiny_registry, tmp_path):
    ovd = OVDiff(default_config("tiny"), tiny_registry, ArtifactStore(tmp_path / "store"))
    base = ovd.support_set(ClassSpec("brick"))
    first = base.images[0]
    h, w = first.image.shape[:2]
    keys, built = [], []
    for n, root in enumerate(("a", "b", "a")):
        painted = np.zeros((h, w), bool)
        painted[: h // 2 + 2 * (n % 2), : w // 2] = True  # roots a and b differ in pixels too (n = 1)
        folder = tmp_path / root / "painted_masks"
        folder.mkdir(parents=True, exist_ok=True)
        choice = PAINTED + mask_id(painted)
        Image.fromarray(painted.astype(np.uint8) * 255).save(tmp_path / root / painted_file(choice))
        spec = class_specs([{"name": "brick", "curation": {"masks": {image_id(first.image): choice}}}],
                           support_root=tmp_path / root)[0]
        keys.append(ovd.support_key(spec))
        support = ovd.support_set(spec)
        built.append(support)
        assert support.images[0].mask_choice == choice and (support.images[0].fg_mask == painted).all()
        assert all((a.fg_mask == b.fg_mask).all() for a, b in zip(support.images[1:], base.images[1:]))
    assert keys[0] != keys[1], "another painted mask is another support set"
    assert keys[0] == keys[2], "the same mask under another MEDIA_ROOT is the same set (a cache hit)"
    assert keys[0] != ovd.support_key(ClassSpec("brick"))
