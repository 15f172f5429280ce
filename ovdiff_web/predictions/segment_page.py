"""Explaining a clicked pixel of a stored segmentation (prediction jobs, and the read-only records of the earlier
one-image path in ``predictions.legacy``): the prototype index as JSON rows and back."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from engine.profiles import is_random_profile
from engine.errors import BadInputError

if TYPE_CHECKING:
    import numpy as np


def stored_prototype_index(seg: Any) -> dict[str, list[list[Any]]]:
    """A segmentation's prototype index as JSON rows, the form ``explain_arrays`` reads back."""
    return {e: [[owner, src.kind, src.mask, src.image_index, src.cluster, src.box, src.size] for owner, src in entries]
            for e, entries in seg.prototype_index.items()}


def explain_arrays(labels: np.ndarray, label_names: Sequence[str], winners: dict[str, np.ndarray],
                   scores: dict[str, np.ndarray], prototype_index: dict[str, list[list[Any]]], x: int, y: int,
                   profile: str, support_image: Any) -> dict[str, Any]:
    """The explanation of pixel (x, y) from stored arrays (the segment page and prediction jobs alike);
    ``support_image(class, image index)`` gives the MEDIA_ROOT-relative support image or None."""
    from engine.segment.explain import explain_pixel
    from engine.types import ProtoSource, Segmentation

    index = {e: [(owner, ProtoSource(kind=kind, mask=mask, image_index=img, cluster=cl,
                                     box=tuple(box) if box else None, size=size))
                 for owner, kind, mask, img, cl, box, size in entries]
             for e, entries in prototype_index.items()}
    seg = Segmentation(labels=labels, label_names=list(label_names), winners=winners, prototype_index=index,
                       winner_scores=scores)
    try:
        explanations = explain_pixel(seg, x, y)
    except BadInputError as exc:
        raise LookupError(str(exc)) from None
    items = []
    for e in explanations:
        rel = support_image(e.prototype_class, e.source.image_index) if e.source.image_index is not None else None
        items.append({"extractor": e.extractor, "score": e.score, "prototype_class": e.prototype_class,
                      "prototype_index": e.prototype_index, "kind": e.source.kind, "mask": e.source.mask,
                      "image_index": e.source.image_index, "box": e.source.box, "support_image": rel})
    return {"x": x, "y": y, "class_name": label_names[int(labels[y, x])], "explanations": items,
            "random_weights": is_random_profile(profile)}


def link_support_images(data: dict[str, Any], url_for: Any) -> dict[str, Any]:
    """Replace each explanation's MEDIA_ROOT-relative ``support_image`` by ``support_image_url`` (None if absent)."""
    for item in data["explanations"]:
        rel = item.pop("support_image")
        item["support_image_url"] = url_for(rel) if rel else None
    return data
