"""Safe image and label-map I/O, palettes and overlays.

Images come from users and from datasets, so every failure names the file: unreadable or truncated
files, HTML pages saved as .png, and images too large to decode (the declared size is checked from
the header before any pixel is decoded, which is the decompression-bomb guard). Label maps are read
by palette index, never RGB-converted, because a palette PNG's colours are not its labels.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image, ImageOps

from engine.errors import BadInputError
from engine.palette import class_palette

DEFAULT_MAX_PIXELS = 40_000_000  # mirrors SegmentConfig.max_image_pixels
_TEXT_PREFIXES = (b"<!doctype", b"<html", b"<?xml", b"<svg", b"{", b"[", b"<head", b"<body")


def _sniff_text(path: Path) -> bool:
    """True when a file looks like text/HTML (a web page saved under an image name)."""
    try:
        with path.open("rb") as f:
            head = f.read(512)
    except OSError:
        return False
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith(_TEXT_PREFIXES):
        return True
    if not head:
        return False
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return printable / len(head) > 0.95


def _reason(e: BaseException, path: Path) -> str:
    """PIL's message without the file's path (the error names the file once, as its ``item``)."""
    return str(e).replace(f" '{path}'", "").replace(f" {path}", "").replace(str(path), path.name)


def _bomb_message(e: BaseException, max_pixels: int, limit_setting: str) -> str:
    """One stated limit: ours (with its setting) unless PIL's decompression-bomb limit is the lower one."""
    found = re.search(r"\((\d+) pixels\)", str(e))
    declared = f"declares {found.group(1)} pixels" if found else "declares too many pixels to open safely"
    pil_limit = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else None
    if pil_limit is not None and pil_limit < max_pixels:
        return f"image {declared}, above the decompression-bomb limit of {pil_limit} (PIL.Image.MAX_IMAGE_PIXELS x 2)"
    return f"image {declared}, above the limit of {max_pixels} (setting {limit_setting})"


def _open_checked(path: Path, max_pixels: int, limit_setting: str = "segment.max_image_pixels") -> Image.Image:
    """Open lazily (header only) and refuse oversize images before decoding."""
    if not path.exists():
        raise BadInputError("file not found", item=str(path))
    if not path.is_file():
        raise BadInputError("not a file", item=str(path))
    if path.stat().st_size == 0:  # the same words as the prediction upload's
        raise BadInputError("empty file (0 bytes)", item=str(path))
    try:
        with warnings.catch_warnings():
            # Our own max_pixels is the policy; PIL's warning threshold would only add noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as e:
        raise BadInputError(_bomb_message(e, max_pixels, limit_setting), item=str(path)) from e
    except (Image.UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        if _sniff_text(path):
            raise BadInputError("is a text/HTML file, not an image (renamed to an image extension?)",
                                item=str(path)) from e
        raise BadInputError(f"not a readable image ({type(e).__name__}: {_reason(e, path)})",
                            item=str(path)) from e
    w, h = img.size
    if w <= 0 or h <= 0:
        img.close()
        raise BadInputError(f"image has an empty size {w}x{h}", item=str(path))
    if w * h > max_pixels:
        img.close()
        raise BadInputError(
            f"image is {w}x{h} = {w * h} pixels, above the limit of {max_pixels} (setting {limit_setting})",
            item=str(path),
        )
    return img


def _decode(img: Image.Image, path: Path) -> Image.Image:
    """Force decoding so corrupt or truncated data raises here, naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise BadInputError(f"corrupt or truncated image data ({_reason(e, path)})", item=str(path)) from e
    return img


def _to_rgb8(img: Image.Image) -> np.ndarray:
    """Any PIL mode -> uint8 (H, W, 3); 16-bit and float data are rescaled, alpha over white."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.int64)
        hi = 65535 if arr.max(initial=0) <= 65535 else int(arr.max())
        gray = np.clip(np.round(np.clip(arr, 0, None) * (255.0 / hi)), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64))
        scale = 255.0 if arr.max(initial=0.0) <= 1.0 else 1.0
        gray = np.clip(np.round(arr * scale), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8).copy()
    if mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, apply_exif: bool = True,
               limit_setting: str = "segment.max_image_pixels") -> np.ndarray:
    """Read an image file as uint8 (H, W, 3) RGB.

    ``max_pixels`` is checked against the header before decoding. EXIF orientation is applied by
    default (what a user sees); dataset readers turn it off because benchmark labels were drawn on
    the stored pixel grid.
    """
    path = Path(path)
    img = _open_checked(path, max_pixels, limit_setting)  # the setting a refusal names
    try:
        _decode(img, path)
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        if apply_exif:
            try:
                img = ImageOps.exif_transpose(img)
            except (OSError, ValueError, SyntaxError, TypeError) as e:
                raise BadInputError(f"unreadable EXIF orientation ({e})", item=str(path)) from e
        try:
            return _to_rgb8(img)
        except (OSError, ValueError) as e:
            raise BadInputError(f"cannot convert image mode {img.mode} to RGB ({e})", item=str(path)) from e
    finally:
        img.close()


def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: (n, 3) uint8; index 255 is VOC's boundary colour."""
    pal = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


def _label_values_from_rgb(rgb: np.ndarray, colour_map: Mapping[tuple[int, int, int], int], path: Path) -> np.ndarray:
    """Map each RGB colour to its label index; an unknown colour is an error naming it."""
    packed = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    keys = np.array([(r << 16) | (g << 8) | b for (r, g, b) in colour_map], dtype=np.int64)
    vals = np.array(list(colour_map.values()), dtype=np.int64)
    uniq, inv = np.unique(packed, return_inverse=True)
    order = np.argsort(keys)
    pos = np.searchsorted(keys[order], uniq)
    pos = np.clip(pos, 0, max(len(keys) - 1, 0))
    found = keys[order][pos] == uniq if len(keys) else np.zeros(len(uniq), bool)
    if not found.all():
        bad = [((int(u) >> 16) & 255, (int(u) >> 8) & 255, int(u) & 255) for u in uniq[~found][:5]]
        raise BadInputError(f"colours not in the given palette mapping: {bad}", item=str(path))
    return vals[order][pos][inv].reshape(packed.shape)


def load_label_png(
    path: str | Path,
    expected_size: tuple[int, int] | None = None,
    num_classes: int | None = None,
    ignore_index: int = 255,
    colour_map: Mapping[tuple[int, int, int], int] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Read a label map as int64 (H, W) of class indices.

    Palette ("P") and grayscale PNGs are read by index. An RGB mask is only accepted when all channels
    are equal (an index map saved as RGB) or ``colour_map`` {(r, g, b): index} is given.
    ``expected_size`` is (height, width) of the image the labels belong to.
    """
    path = Path(path)
    img = _open_checked(path, max_pixels)
    try:
        if img.format in ("JPEG", "MPO", "WEBP") and not img.info.get("lossless"):
            raise BadInputError(f"label maps must be lossless (PNG); {img.format} compression corrupts class "
                                "indices", item=str(path))
        _decode(img, path)
        mode = img.mode
        if mode in ("P", "L", "1", "I", "I;16", "I;16L", "I;16B", "I;16N"):
            labels = np.asarray(img).astype(np.int64)
        elif mode in ("LA", "PA"):
            labels = np.asarray(img)[..., 0].astype(np.int64)
        elif mode in ("RGB", "RGBA"):
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
            if colour_map is not None:
                labels = _label_values_from_rgb(rgb, colour_map, path)
            elif (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
                labels = rgb[..., 0].astype(np.int64)
            else:
                raise BadInputError(
                    "is an RGB colour mask; labels must be a palette (indexed) or grayscale PNG of class "
                    "indices, or give a colour-to-index mapping",
                    item=str(path),
                )
        else:
            raise BadInputError(f"unsupported label image mode {mode}", item=str(path))
    finally:
        img.close()
    if expected_size is not None and tuple(labels.shape) != tuple(expected_size):
        eh, ew = expected_size
        lh, lw = labels.shape
        raise BadInputError(f"label map is {lw}x{lh} (WxH) but its image is {ew}x{eh}", item=str(path))
    if num_classes is not None:
        bad = (labels < 0) | ((labels >= num_classes) & (labels != ignore_index))
        if bad.any():
            vals = np.unique(labels[bad])[:8].tolist()
            raise BadInputError(
                f"label values {vals} outside [0, {num_classes}) and not the ignore index {ignore_index}",
                item=str(path),
            )
    return labels


def save_label_png(labels: np.ndarray, path: str | Path, palette: np.ndarray | None = None) -> Path:
    """Write labels as a palette PNG (values 0..255) or a 16-bit grayscale PNG when larger."""
    path = Path(path)
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise BadInputError(f"labels must be 2-D, got shape {labels.shape}", item=str(path))
    if labels.size and labels.min() < 0:
        raise BadInputError(f"negative label value {int(labels.min())}", item=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if labels.size == 0 or labels.max() <= 255:
        img = Image.fromarray(labels.astype(np.uint8), mode="P")
        pal = class_palette(256) if palette is None else np.asarray(palette, dtype=np.uint8)[:256]
        flat = np.zeros((256, 3), dtype=np.uint8)
        flat[: len(pal)] = pal
        img.putpalette(flat.reshape(-1).tolist())
    elif labels.max() <= 65535:
        img = Image.fromarray(labels.astype(np.uint16))
    else:
        raise BadInputError(f"label value {int(labels.max())} does not fit a PNG", item=str(path))
    img.save(path, format="PNG")
    return path


def colorize(labels: np.ndarray, palette: np.ndarray | Sequence[Sequence[int]] | None = None) -> np.ndarray:
    """Label map -> uint8 (H, W, 3) colours (default: the one class palette); labels beyond it wrap around."""
    pal = class_palette(256) if palette is None else np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    idx = np.asarray(labels).astype(np.int64)
    return pal[np.mod(idx, len(pal))]


def overlay(
    image: np.ndarray,
    labels: np.ndarray,
    palette: np.ndarray | Sequence[Sequence[int]] | None = None,
    alpha: float = 0.5,
    ignore_index: int | None = 255,
) -> np.ndarray:
    """Blend label colours over an image; ignored pixels keep the image unchanged."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != np.asarray(labels).shape:
        raise BadInputError(f"image {image.shape} and labels {np.asarray(labels).shape} do not match")
    if not 0.0 <= alpha <= 1.0:
        raise BadInputError(f"alpha must be in [0, 1], got {alpha}")
    colours = colorize(labels, palette).astype(np.float32)
    out = image.astype(np.float32) * (1.0 - alpha) + colours * alpha
    if ignore_index is not None:
        keep = np.asarray(labels) == ignore_index
        out[keep] = image[keep]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
