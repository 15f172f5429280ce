"""Reading a dataset's images and ground truth for the dashboard (previews, run galleries, overlays).

The opened dataset and an id -> sample index are cached per (format, root, split, protocol), so a page of a
5,000-image dataset looks each image up in O(1) instead of scanning the file list."""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any
from ovdiff_web.common.engine_bridge import open_dataset
from ovdiff_web.common.engine_bridge import dataset_root
from django.core.paginator import Paginator

if TYPE_CHECKING:
    import numpy as np

PREVIEW_PAGE = 12


@lru_cache(maxsize=16)
def _opened(fmt: str, root: str, split: str, protocol: str) -> tuple[Any, dict[str, Any]]:

    seg = open_dataset(fmt, root, split, protocol or None, check_files=False)
    return seg, {s.id: s for s in seg.samples}


def find_sample(dataset: Any, image_id: str) -> tuple[Any, Any]:
    """(SegDataset, Sample) of one image of ``dataset``; LookupError when it is not (or no longer) there."""

    seg, index = _opened(dataset.format, dataset_root(dataset), dataset.split or "val", dataset.protocol or "")
    sample = index.get(image_id)
    if sample is None:
        raise LookupError(f"image {image_id!r} is not in dataset {dataset.name!r}")
    return seg, sample


def image_and_labels(dataset: Any, image_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The RGB image (bounded size, EXIF applied as the engine does) and its ground-truth label map."""
    seg, sample = find_sample(dataset, image_id)
    return seg.load(sample)


def preview_page(dataset: Any, page: Any) -> Any:
    """A page of the dataset's image ids with their positions (for the preview gallery)."""

    return Paginator(list(enumerate(dataset.image_ids or [])), PREVIEW_PAGE).get_page(page)
