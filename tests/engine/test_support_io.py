"""Support-set save/load roundtrip and user-folder loading rules."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.errors import BadInputError
from engine.support.io import folder_content_hash, load_support_set, load_user_support_folder, save_support_set
from engine.types import SupportImage, SupportSet


def _img(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    attr = rng.random((16, 20)).astype(np.float32)
    fg = attr > 0.5
    s = SupportSet(
        class_name="cat",
        prompt="A good photo of a cat",
        source="generated",
        key="abc",
        images=[
            SupportImage(0, _img(16, 20, 0), attr, seed=42, prompt="A good photo of a cat", fg_mask=fg,
                         bg_mask=~fg, instance_masks=[fg, ~fg]),
            SupportImage(1, _img(16, 20, 1), None),
        ],
    )
    save_support_set(s, tmp_path / "s")
    assert (tmp_path / "s" / "images" / "000.png").is_file() and (tmp_path / "s" / "masks" / "000_fg.png").is_file()
    back = load_support_set(tmp_path / "s")
    assert (back.class_name, back.prompt, back.source, back.key) == ("cat", "A good photo of a cat", "generated", "abc")
    a, b = back.images
    assert np.array_equal(a.image, s.images[0].image) and a.image.dtype == np.uint8
    assert np.abs(a.attribution - attr).max() <= 1 / 65535 and a.attribution.dtype == np.float32
    assert np.array_equal(a.fg_mask, fg) and np.array_equal(a.bg_mask, ~fg)
    assert len(a.instance_masks) == 2 and np.array_equal(a.instance_masks[1], ~fg)
    assert (a.seed, a.prompt) == (42, "A good photo of a cat")
    assert b.attribution is None and b.fg_mask is None and b.instance_masks == []


def test_missing_manifest(tmp_path):
    with pytest.raises(BadInputError, match="manifest.json"):
        load_support_set(tmp_path)


def _user_folder(tmp_path):
    d = tmp_path / "user"
    (d / "masks").mkdir(parents=True)
    Image.fromarray(_img(10, 12, 0)).save(d / "a.png")
    Image.fromarray(_img(8, 8, 1)).save(d / "b.jpg")
    Image.fromarray(_img(6, 6, 2)).save(d / "c.webp")
    m = np.zeros((10, 12), np.uint8)
    m[2:5, 3:7] = 7
    Image.fromarray(m).save(d / "masks" / "a.png")
    bgm = np.zeros((8, 8), np.uint8)
    bgm[:2] = 255
    Image.fromarray(bgm).save(d / "masks" / "b_bg.png")
    Image.fromarray(255 - bgm).save(d / "masks" / "b_fg.png")
    return d, m


def test_user_folder(tmp_path):
    d, m = _user_folder(tmp_path)
    s = load_user_support_folder(d, "cat")
    assert s.source == "user" and s.class_name == "cat" and s.prompt == "cat"
    a, b, c = s.images
    assert [x.index for x in s.images] == [0, 1, 2]
    assert a.image.shape == (10, 12, 3) and np.array_equal(a.fg_mask, m > 0) and a.bg_mask is None
    assert b.bg_mask[:2].all() and not b.bg_mask[2:].any() and b.fg_mask[2:].all()
    assert c.fg_mask is None and c.attribution is None


def test_user_folder_errors(tmp_path):
    d, _ = _user_folder(tmp_path)
    (d / "notes.txt").write_text("hi")
    with pytest.raises(BadInputError, match="notes.txt"):
        load_user_support_folder(d, "cat")
    (d / "notes.txt").unlink()
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(BadInputError, match="broken.png"):
        load_user_support_folder(d, "cat")
    (d / "broken.png").unlink()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(d / "masks" / "c.png")  # c.webp is 6x6
    with pytest.raises(BadInputError, match="c.png"):
        load_user_support_folder(d, "cat")
    (d / "masks" / "c.png").unlink()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(d / "masks" / "zzz.png")
    with pytest.raises(BadInputError, match="zzz.png"):
        load_user_support_folder(d, "cat")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError, match="no images"):
        load_user_support_folder(empty, "cat")
    with pytest.raises(BadInputError, match="not found"):
        load_user_support_folder(tmp_path / "nope", "cat")


def test_folder_content_hash_tracks_contents(tmp_path):
    d, _ = _user_folder(tmp_path)
    h1 = folder_content_hash(d)
    assert folder_content_hash(d) == h1
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(d / "masks" / "a.png")
    h2 = folder_content_hash(d)
    assert h2 != h1
    (d / "b.jpg").rename(d / "b2.jpg")
    assert folder_content_hash(d) != h2
