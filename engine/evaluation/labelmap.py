"""From a vocabulary's labels to a dataset's label ids.

The segmenter labels pixels 0 = background (when background prototypes are used), then the vocabulary in
order. A dataset numbers its own classes. The label map joins the two by class name or prompt
(case-insensitive); a vocabulary class the dataset does not know goes to one extra id, the "no dataset label"
column (``num_classes``), which always counts as a wrong prediction. Pure numpy, imported where pixels are mapped:
the web process builds label maps (and starts) without loading torch or numpy.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np

    from engine.types import Segmentation

NO_DATASET_LABEL = "no dataset label"


def dataset_label_map(vocabulary: Sequence[tuple[str, str | None]], dataset_names: Sequence[str],
                      dataset_prompts: Sequence[str], has_background: bool) -> dict[str, int]:
    """Vocabulary class name -> dataset id, matching each ``(name, prompt)`` by name, then prompt, to a dataset
    class name or prompt. With a background protocol "background" -> 0; unmatched classes are left out."""
    index: dict[str, int] = {}
    for i, (name, prompt) in enumerate(zip(dataset_names, dataset_prompts)):
        if has_background and i == 0:
            continue
        index.setdefault(name.lower(), i)
        index.setdefault(str(prompt).lower(), i)
    mapping: dict[str, int] = {}
    for name, prompt in vocabulary:
        for candidate in (name, prompt or ""):
            if candidate and candidate.lower() in index:
                mapping[name] = index[candidate.lower()]
                break
    if has_background:
        mapping["background"] = 0
    return mapping


def best_class_labels(seg: "Segmentation") -> np.ndarray:
    """Labels in the segmenter's index space (1..C) with background left out: each pixel takes its best class.

    This is the without-background protocol (VOC-20, Context-59, ADE-150): there is no background to predict.
    """
    import numpy as np

    if seg.scores is None:
        raise ValueError("without-background protocols need the class scores (segment with return_scores=True)")
    return np.argmax(seg.scores[1:], axis=0).astype(np.int64) + 1


def to_dataset_labels(seg: "Segmentation", label_map: dict[str, int], has_background: bool,
                      num_classes: int) -> np.ndarray:
    """The segmentation as dataset ids; classes absent from ``label_map`` become ``num_classes``.

    With background the segmenter's own labels are used; without, every pixel takes its best class.
    """
    import numpy as np

    labels = seg.labels if has_background else best_class_labels(seg)
    lut = np.array([label_map.get(name, num_classes) for name in seg.label_names], dtype=np.int64)
    return lut[np.asarray(labels, dtype=np.int64)]
