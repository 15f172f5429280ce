"""Image and label-map loading: every accepted mode, every refusal names the file."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import BadInputError
from engine.images import colorize, load_image, load_label_png, overlay, save_label_png, voc_palette


def _png_declaring(path: Path, width: int, height: int) -> Path:
    """A valid 1x1 PNG whose IHDR is patched to declare a huge size (a decompression bomb header)."""
    Image.new("L", (1, 1)).save(path)
    raw = bytearray(path.read_bytes())
    ihdr = 8 + 8  # signature + length/type of the IHDR chunk
    raw[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(raw[12:ihdr + 13])) & 0xFFFFFFFF
    raw[ihdr + 13:ihdr + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(raw))
    return path


def test_rgb_jpeg_and_png(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.shape == (7, 5, 3)
    np.testing.assert_array_equal(out, arr)
    Image.fromarray(arr).save(tmp_path / "a.jpg", quality=95)
    assert load_image(tmp_path / "a.jpg").shape == (7, 5, 3)


def test_grayscale_accepted(tmp_path):
    g = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(g, mode="L").save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert out.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], g)


def test_16bit_scaled_to_8bit(tmp_path):
    g = np.array([[0, 257 * 100], [65535, 257 * 7]], dtype=np.uint16)
    Image.fromarray(g).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    out = load_image(tmp_path / "g16.png")
    np.testing.assert_array_equal(out[..., 0], [[0, 100], [255, 7]])


def test_palette_rgba_cmyk(tmp_path):
    p = Image.fromarray(np.array([[0, 1], [2, 3]], dtype=np.uint8), mode="P")
    p.putpalette(voc_palette().reshape(-1).tolist())
    p.save(tmp_path / "p.png")
    np.testing.assert_array_equal(load_image(tmp_path / "p.png")[0, 1], [128, 0, 0])

    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)  # opaque keeps its colour
    rgba[1, 1] = (10, 20, 30, 0)  # transparent -> white
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "t.png")
    out = load_image(tmp_path / "t.png")
    np.testing.assert_array_equal(out[0, 0], [10, 20, 30])
    np.testing.assert_array_equal(out[1, 1], [255, 255, 255])

    Image.new("CMYK", (4, 3), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    out = load_image(tmp_path / "c.jpg")
    assert out.shape == (3, 4, 3) and out[..., 0].mean() > 200 and out[..., 1].mean() < 60


def test_exif_orientation_applied(tmp_path):
    arr = np.zeros((2, 4, 3), dtype=np.uint8)
    arr[0, 0] = 255
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=100)
    assert load_image(tmp_path / "r.jpg").shape == (4, 2, 3)
    assert load_image(tmp_path / "r.jpg", apply_exif=False).shape == (2, 4, 3)


def test_not_an_image_names_file(tmp_path):
    f = tmp_path / "noise.png"
    f.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(BadInputError, match="noise.png.*not a readable image") as e:
        load_image(f)
    assert e.value.item == str(f)


def test_html_renamed_png(tmp_path):
    f = tmp_path / "page.png"
    f.write_text("<!DOCTYPE html><html><body>404 not found</body></html>")
    with pytest.raises(BadInputError, match="page.png.*HTML"):
        load_image(f)


def test_truncated_png(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="cut.png"):
        load_image(tmp_path / "cut.png")


def test_empty_file_says_so(tmp_path):
    (tmp_path / "blank.png").write_bytes(b"")
    with pytest.raises(BadInputError, match=r"empty file \(0 bytes\)"):
        load_image(tmp_path / "blank.png")


def test_missing_file(tmp_path):
    with pytest.raises(BadInputError, match="nope.png.*not found"):
        load_image(tmp_path / "nope.png")


def test_too_many_pixels_refused(tmp_path):
    Image.new("RGB", (100, 60)).save(tmp_path / "big.png")
    assert load_image(tmp_path / "big.png", max_pixels=6000).shape == (60, 100, 3)
    with pytest.raises(BadInputError, match=r"big.png.*100x60 = 6000 pixels.*5999"):
        load_image(tmp_path / "big.png", max_pixels=5999)


def test_bomb_header_refused_before_decoding(tmp_path):
    # 1e8 pixels declared in a 70-byte file: below PIL's hard limit, so our header check must refuse it.
    mid = _png_declaring(tmp_path / "mid.png", 10_000, 10_000)
    with pytest.raises(BadInputError, match=r"mid.png.*10000x10000 = 100000000 pixels.*40000000"):
        load_image(mid, max_pixels=40_000_000)
    bomb = _png_declaring(tmp_path / "bomb.png", 60_000, 60_000)  # 3.6e9 pixels declared
    with pytest.raises(BadInputError, match="bomb.png.*pixels") as err:
        load_image(bomb, max_pixels=40_000_000)
    # one stated limit, the one that applies, with its setting (not PIL's two as well)
    assert err.value.detail == ("image declares 3600000000 pixels, above the limit of 40000000 "
                                "(setting segment.max_image_pixels)")
    # Above PIL's own bomb limit too: still a BadInputError naming the file, not a PIL exception.
    with pytest.raises(BadInputError, match="bomb.png.*MAX_IMAGE_PIXELS"):
        load_image(bomb, max_pixels=10**12)


def _palette_png(path: Path, labels: np.ndarray) -> Path:
    return save_label_png(labels, path, voc_palette())


def test_label_png_read_by_index(tmp_path):
    labels = np.array([[0, 1, 15], [20, 255, 3]])
    _palette_png(tmp_path / "l.png", labels)
    assert Image.open(tmp_path / "l.png").mode == "P"
    out = load_label_png(tmp_path / "l.png", expected_size=(2, 3), num_classes=21)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, labels)
    Image.fromarray(labels.astype(np.uint8), mode="L").save(tmp_path / "g.png")
    np.testing.assert_array_equal(load_label_png(tmp_path / "g.png"), labels)


def test_label_png_16bit(tmp_path):
    labels = np.array([[0, 300], [1000, 2]])
    save_label_png(labels, tmp_path / "l16.png")
    np.testing.assert_array_equal(load_label_png(tmp_path / "l16.png"), labels)


def test_label_size_mismatch(tmp_path):
    _palette_png(tmp_path / "m.png", np.zeros((4, 5), dtype=np.int64))
    with pytest.raises(BadInputError, match=r"m.png.*5x4.*image is 6x4"):
        load_label_png(tmp_path / "m.png", expected_size=(4, 6))


def test_label_out_of_range(tmp_path):
    _palette_png(tmp_path / "o.png", np.array([[0, 21, 255]]))
    with pytest.raises(BadInputError, match=r"o.png.*\[21\].*outside \[0, 21\)"):
        load_label_png(tmp_path / "o.png", num_classes=21)
    # 255 is the ignore index and accepted; with another ignore index it is not.
    load_label_png(tmp_path / "o.png", num_classes=22)
    with pytest.raises(BadInputError, match="255"):
        load_label_png(tmp_path / "o.png", num_classes=22, ignore_index=0)


def test_rgb_colour_mask_refused_unless_mapped(tmp_path):
    pal = voc_palette()
    labels = np.array([[0, 1], [2, 1]])
    Image.fromarray(pal[labels]).save(tmp_path / "rgb.png")
    with pytest.raises(BadInputError, match="rgb.png.*RGB colour mask"):
        load_label_png(tmp_path / "rgb.png")
    cmap = {tuple(int(v) for v in pal[i]): i for i in range(3)}
    np.testing.assert_array_equal(load_label_png(tmp_path / "rgb.png", colour_map=cmap), labels)
    with pytest.raises(BadInputError, match=r"rgb.png.*\(0, 128, 0\)"):
        load_label_png(tmp_path / "rgb.png", colour_map={(0, 0, 0): 0, (128, 0, 0): 1})
    # An index map saved as RGB (all channels equal) is read as indices.
    Image.fromarray(np.repeat(labels.astype(np.uint8)[..., None], 3, 2)).save(tmp_path / "grey_rgb.png")
    np.testing.assert_array_equal(load_label_png(tmp_path / "grey_rgb.png"), labels)


def test_label_jpeg_refused(tmp_path):
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8), mode="L").save(tmp_path / "m.jpg")
    with pytest.raises(BadInputError, match="m.jpg.*lossless"):
        load_label_png(tmp_path / "m.jpg")


def test_truncated_jpeg(tmp_path):
    arr = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="cut.jpg.*truncated"):
        load_image(tmp_path / "cut.jpg")


def test_label_not_an_image(tmp_path):
    (tmp_path / "x.png").write_text("<html></html>")
    with pytest.raises(BadInputError, match="x.png"):
        load_label_png(tmp_path / "x.png")


def test_voc_palette_values():
    pal = voc_palette()
    assert pal.shape == (256, 3) and pal.dtype == np.uint8
    assert pal[0].tolist() == [0, 0, 0]
    assert pal[1].tolist() == [128, 0, 0]
    assert pal[15].tolist() == [192, 128, 128]
    assert pal[255].tolist() == [224, 224, 192]
    assert voc_palette(21).shape == (21, 3)


def test_colorize_and_overlay():
    pal = voc_palette()
    labels = np.array([[0, 1], [2, 255]])
    np.testing.assert_array_equal(colorize(labels, pal), pal[labels])
    image = np.full((2, 2, 3), 100, dtype=np.uint8)
    np.testing.assert_array_equal(overlay(image, labels, pal, alpha=0.0), image)
    full = overlay(image, labels, pal, alpha=1.0)
    np.testing.assert_array_equal(full[0, 1], pal[1])
    np.testing.assert_array_equal(full[1, 1], image[1, 1])  # ignore pixel untouched
    half = overlay(image, labels, pal, alpha=0.5)
    np.testing.assert_array_equal(half[0, 1], [114, 50, 50])
    with pytest.raises(BadInputError):
        overlay(image, labels[:1], pal)
