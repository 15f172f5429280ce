"""A registered dataset's ground truth as support images: the class's region in each chosen image becomes a
support image whose foreground is exactly that region (label == the class; ignored pixels are not foreground).

By default the image is cropped to the region's bounding box plus a margin on every side (``MARGIN`` of the box's
longer side, at least ``MIN_MARGIN`` pixels, clipped to the image), so the class fills the support image as
generated ones do while keeping some surround for the background prototypes; ``crop=False`` keeps the whole
image. Refused (``GroundTruthRefused``, a 400 naming the field): a dataset the user may not read or that is not
ready, a class that is not one of the dataset's classes, an image that is not in it or holds (almost) none of the
class."""
from __future__ import annotations

from typing import Any, Sequence

from ovdiff_web.accounts import access
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.datasets.preview import find_sample
from ovdiff_web.support.masks.store import Entry, Stored, write_folder

MAX_IMAGES = 32
MARGIN = 0.15
MIN_MARGIN = 8
MIN_PIXELS = 16  # a region smaller than this is taken for absent (a few stray label pixels)


class GroundTruthRefused(ServiceError, ValueError):
    code = "ground_truth_refused"

    def __init__(self, message: str, field: str = "detail", status: int = 400) -> None:
        super().__init__(message, field, status=status)


def readable_datasets(user: Any) -> Any:
    """Ready datasets ``user`` may read, by name (the class page's choice)."""
    return access.scope(Dataset.objects.filter(status=Dataset.Status.READY), user).order_by("name")


def dataset_for(user: Any, pk: Any) -> Dataset:
    """A ready dataset ``user`` may read; one they may not read is refused as if it did not exist."""
    found = None
    if isinstance(pk, int) or (isinstance(pk, str) and pk.isdigit()):
        found = access.scope(Dataset.objects.filter(pk=int(pk)), user).first()
    if found is None:
        raise GroundTruthRefused(f"no dataset you may read has id {str(pk)[:20]!r}", "dataset")
    if found.status != Dataset.Status.READY:
        raise GroundTruthRefused(f"dataset {found.name!r} is {found.status}, not ready", "dataset")
    return found


def class_index(dataset: Dataset, seg: Any, name: str) -> int:
    """Label value of the class ``name`` in ``seg`` (the dataset opened by the engine)."""
    names = [str(n) for n in seg.class_names]
    wanted = name.strip().lower()
    for index, candidate in enumerate(names):
        if candidate.strip().lower() == wanted:
            return index
    listed = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
    raise GroundTruthRefused(f"class {name!r} is not one of the classes of dataset {dataset.name!r} ({listed})",
                             "dataset")


def parse_ids(raw: Any) -> list[str]:
    """Image ids from a list or a comma / space / newline separated text, in order, each once."""
    items = raw if isinstance(raw, (list, tuple)) else str(raw or "").replace(",", " ").split()
    out: list[str] = []
    for item in items:
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return out


def region_entries(dataset: Dataset, class_name: str, image_ids: Sequence[str], crop: bool = True) -> list[Entry]:
    """One support image with its exact mask per image id; ``GroundTruthRefused`` naming the first id that is
    not in the dataset or holds none of the class."""
    import numpy as np

    if not image_ids:
        raise GroundTruthRefused("choose one or more images of the dataset", "image_ids")
    if len(image_ids) > MAX_IMAGES:
        raise GroundTruthRefused(f"{len(image_ids)} images; at most {MAX_IMAGES} at a time", "image_ids")
    known = set(dataset.image_ids or [])
    entries = []
    for image_id in image_ids:
        if image_id not in known:
            raise GroundTruthRefused(f"image {image_id[:80]!r} is not in dataset {dataset.name!r}", "image_ids")
        try:
            seg, sample = find_sample(dataset, image_id)
            index = class_index(dataset, seg, class_name)
            image, labels = seg.load(sample)
        except (LookupError, OSError, ValueError) as exc:
            if isinstance(exc, GroundTruthRefused):
                raise
            raise GroundTruthRefused(f"image {image_id!r} of dataset {dataset.name!r} cannot be read ({exc})",
                                     "image_ids") from None
        fg = np.asarray(labels) == index
        if int(fg.sum()) < MIN_PIXELS:
            raise GroundTruthRefused(f"image {image_id!r} of dataset {dataset.name!r} shows no {class_name!r} "
                                     f"({int(fg.sum())} pixels of it in the ground truth)", "image_ids")
        if crop:
            image, fg = crop_to_region(image, fg)
        entries.append(Entry(image=image, fg=fg, origin=f"ground truth of dataset {dataset.name}, image {image_id}"))
    return entries


def crop_to_region(image: Any, fg: Any) -> tuple[Any, Any]:
    """``image`` and ``fg`` cut to the bounding box of ``fg`` grown by the margin (clipped to the image)."""
    import numpy as np

    rows, cols = np.flatnonzero(fg.any(axis=1)), np.flatnonzero(fg.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    pad = max(MIN_MARGIN, int(round(MARGIN * max(bottom - top, right - left))))
    h, w = fg.shape
    top, left, bottom, right = max(0, top - pad), max(0, left - pad), min(h, bottom + pad), min(w, right + pad)
    return np.ascontiguousarray(image[top:bottom, left:right]), np.ascontiguousarray(fg[top:bottom, left:right])


def store_regions(class_id: int, class_name: str, dataset: Dataset, image_ids: Sequence[str],
                  crop: bool = True) -> Stored:
    """The regions as a new upload folder of the class (every image checked before anything is written)."""
    return write_folder(class_id, region_entries(dataset, class_name, image_ids, crop), f"dataset {dataset.pk}")
