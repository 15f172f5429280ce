"""The dataset shape every reader returns: ordered samples plus the label protocol to read them with."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from engine.evaluation.datasets.prompts import dataset_prompts
from engine.errors import BadInputError
from engine.images import DEFAULT_MAX_PIXELS, load_image, load_label_png


@dataclass(frozen=True)
class Sample:
    id: str
    image_path: Path
    label_path: Path


def reduce_zero_label(labels: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """mmseg's reduce_zero_label: raw 0 (background/"other") -> ignore, every other class shifts down by one."""
    out = labels - 1
    out[labels == 0] = ignore_index
    out[labels == ignore_index] = ignore_index
    return out


class SegDataset:
    """A split of a segmentation dataset under one protocol.

    ``class_names`` are in label order (index 0 is "background" when ``has_background``); ``prompts`` are
    the same classes renamed for the generator and CLIP: given, or ``dataset_prompts(kind, class_names,
    class_prompts)`` (``kind`` is the reader's, e.g. "context"; ``class_prompts`` the ``segment.class_prompts``
    setting). With ``reduce_zero_label`` the files hold one
    more class (raw 0) than ``class_names``; it is mapped to ``ignore_index`` on load.
    """

    def __init__(
        self,
        name: str,
        class_names: Sequence[str],
        samples: Sequence[Sample],
        *,
        has_background: bool,
        prompts: Sequence[str] | None = None,
        kind: str = "folder",
        class_prompts: str = "paper",
        ignore_index: int = 255,
        reduce_zero_label: bool = False,
        exif_transpose: bool = False,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        root: Path | None = None,
        split: str | None = None,
        protocol: str | None = None,
        check_files: bool = True,
    ) -> None:
        self.name = name
        self.class_names = list(class_names)
        self.kind = kind
        self.prompts = (list(prompts) if prompts is not None
                        else dataset_prompts(kind, self.class_names, class_prompts))
        if len(self.prompts) != len(self.class_names):
            raise BadInputError(f"{len(self.prompts)} prompts for {len(self.class_names)} classes", item=name)
        if has_background and (not self.class_names or self.class_names[0] != "background"):
            raise BadInputError('with-background protocols need class 0 to be "background"', item=name)
        self.has_background = has_background
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.exif_transpose = exif_transpose
        self.max_pixels = max_pixels
        self.root = root
        self.split = split
        self.protocol = protocol
        self.samples = list(samples)
        if not self.samples:
            raise BadInputError(f"no samples found for split {split!r}", item=str(root) if root else name)
        if check_files:
            self._check_files()

    def _check_files(self) -> None:
        for s in self.samples:
            if not s.image_path.is_file():
                raise BadInputError(f"image for sample {s.id!r} is missing", item=str(s.image_path))
            if not s.label_path.is_file():
                raise BadInputError(f"label map for sample {s.id!r} is missing", item=str(s.label_path))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def raw_num_classes(self) -> int:
        """Number of label values a file may hold (besides ignore)."""
        return self.num_classes + (1 if self.reduce_zero_label else 0)

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __getitem__(self, i: int) -> Sample:
        return self.samples[i]

    def load(self, sample: Sample) -> tuple[np.ndarray, np.ndarray]:
        """(image uint8 (H, W, 3), labels int64 (H, W)) with the protocol's label mapping applied."""
        image = load_image(sample.image_path, self.max_pixels, apply_exif=self.exif_transpose)
        labels = load_label_png(
            sample.label_path,
            expected_size=image.shape[:2],
            num_classes=self.raw_num_classes,
            ignore_index=self.ignore_index,
            max_pixels=self.max_pixels,
        )
        if self.reduce_zero_label:
            labels = reduce_zero_label(labels, self.ignore_index)
        return image, labels

    def __repr__(self) -> str:
        return (f"SegDataset({self.name!r}, protocol={self.protocol!r}, split={self.split!r}, "
                f"{len(self)} samples, {self.num_classes} classes)")


def find_root(root: Path, candidates: Sequence[str], marker: str, what: str) -> Path:
    """The first of root/<candidate> holding ``marker``; lets users point at the dataset or its parent."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"{what} root is not a directory", item=str(root))
    for c in candidates:
        base = root / c if c else root
        if (base / marker).exists():
            return base
    tried = ", ".join(str((root / c if c else root) / marker) for c in candidates)
    raise BadInputError(f"not a {what} dataset: expected {tried}", item=str(root))


def read_split_file(path: Path) -> list[str]:
    """Ids one per line; a missing list is an error naming the expected file."""
    if not path.is_file():
        raise BadInputError("split list not found (expected this file)", item=str(path))
    ids = [line.strip().split()[0] for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise BadInputError("split list is empty", item=str(path))
    return ids


def check_protocol(kind: str, protocol: str | None, allowed: Sequence[str]) -> str:
    if protocol is None:
        return allowed[0]
    if protocol not in allowed:
        raise BadInputError(f"unknown protocol for {kind}; choose one of {', '.join(allowed)}", item=protocol)
    return protocol
