"""The prediction job's entry in the run-kind table (``ovdiff_web.runs.kinds``): segmented, not scored, its own
page, its own per-shard step. Registered once per process by ``ovdiff_web.core.apps``."""
from __future__ import annotations

from typing import Any

from ovdiff_web.predictions.services import create_prediction
from ovdiff_web.predictions.work import predict_shard
from ovdiff_web.runs.kinds import RunKind, register
from ovdiff_web.runs.models import Run


def create_from_dataset(*, dataset: Any, vocabulary: Any = None, **kwargs: Any) -> Run:
    """A prediction job on a dataset's images (``/api/runs/`` with ``kind: segmentation``): the vocabulary's
    classes, else the dataset's own class names (background added by the method)."""
    classes = [] if vocabulary else [n for n in dataset.class_names if n.lower() != "background"]
    return create_prediction(dataset=dataset, vocabulary=vocabulary, classes=classes, **kwargs)


PREDICTION = RunKind(Run.Kind.SEGMENTATION, scored=False, page="ui:prediction", segment_shard=predict_shard,
                     create_from_dataset=create_from_dataset)


def register_kind() -> None:
    register(PREDICTION)
