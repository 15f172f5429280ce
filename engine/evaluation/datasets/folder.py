"""A user's own labelled folder: images/, masks/ (PNG of class indices, same stem), classes.txt.

classes.txt has one class per line in label order (blank lines and ``#`` comments skipped); a first line
"background" makes index 0 the background class. An optional split list ``splits/<split>.txt`` or
``<split>.txt`` selects ids; without any split list every image is used. Masks are read by index
(palette or grayscale), 255 is ignored. EXIF orientation is applied, as the user sees the image.
"""
from __future__ import annotations

from pathlib import Path

from engine.evaluation.datasets.base import Sample, SegDataset, read_split_file
from engine.errors import BadInputError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
COMMON_SPLITS = ("train", "val", "test")


def read_classes(path: Path) -> list[str]:
    if not path.is_file():
        raise BadInputError("class list not found (expected this file, one class per line)", item=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"class list is not UTF-8 text (byte {exc.start}); save it as UTF-8",
                            item=str(path)) from None
    if "\x00" in text:
        raise BadInputError("class list contains NUL characters (a binary file?)", item=str(path))
    names = [ln.strip() for ln in text.splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise BadInputError("class list is empty", item=str(path))
    seen: set[str] = set()
    for n in names:
        if n.lower() in seen:
            raise BadInputError(f"class {n!r} is listed twice", item=str(path))
        seen.add(n.lower())
    return names


def _split_file(root: Path, split: str) -> Path | None:
    """The split list to use, None for "every image"; a missing list among existing ones is an error."""
    for cand in (root / "splits" / f"{split}.txt", root / f"{split}.txt"):
        if cand.is_file():
            return cand
    others = list((root / "splits").glob("*.txt")) if (root / "splits").is_dir() else []
    others += [root / f"{s}.txt" for s in COMMON_SPLITS if (root / f"{s}.txt").is_file()]
    if split != "all" and others:
        return root / "splits" / f"{split}.txt"  # read_split_file names it as missing
    return None


def open_folder(root: str | Path, split: str = "val", protocol: str | None = None, **kwargs) -> SegDataset:
    root = Path(root)
    if not root.is_dir():
        raise BadInputError("dataset root is not a directory", item=str(root))
    if protocol is not None:
        raise BadInputError("folder datasets have no protocols (background comes from classes.txt)", item=protocol)
    img_dir, mask_dir = root / "images", root / "masks"
    if not img_dir.is_dir():
        raise BadInputError("image folder not found (expected this folder)", item=str(img_dir))
    names = read_classes(root / "classes.txt")
    by_stem: dict[str, Path] = {}
    for p in sorted(img_dir.iterdir()):
        if p.suffix.lower() in IMAGE_EXTS and p.is_file():
            if p.stem in by_stem:
                raise BadInputError(f"two images share the stem {p.stem!r} ({by_stem[p.stem].name})", item=str(p))
            by_stem[p.stem] = p
    split_path = _split_file(root, split)
    if split_path is None:
        ids = list(by_stem)
    else:
        ids = read_split_file(split_path)
        for i in ids:
            if i not in by_stem:
                raise BadInputError(f"no image for id {i!r} listed in {split_path.name}",
                                    item=str(img_dir / f"{i}.*"))
    samples = [Sample(i, by_stem[i], mask_dir / f"{i}.png") for i in ids]
    with_bg = names[0].lower() == "background"
    if with_bg:
        names[0] = "background"
    return SegDataset(root.name or "folder", names, samples, has_background=with_bg, reduce_zero_label=False,
                      exif_transpose=True, root=root, split=split if split_path else "all", protocol=None,
                      **kwargs)
