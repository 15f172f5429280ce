"""Scoring an evaluation keeps each image's ground-truth classes (the run page's "class present in the ground
truth" filter reads them): the worker's shard step, run in-process through the same Celery tasks."""
from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from ovdiff_web.core.models import ImageResult
from tests.service.conftest import demo_zip
from tests.service.test_predictions import FAST, run_inline

pytestmark = pytest.mark.django_db


def test_scoring_keeps_ground_truth_and_predicted_classes(api: APIClient, media_root: Any) -> None:
    from ovdiff_web.runs.images import gt_class_names, load_prediction

    upload = api.post("/api/datasets/", {"name": "demo", "format": "folder", "file": demo_zip(n_images=2, size=32)},
                      format="multipart")
    assert upload.status_code == 201, upload.content
    created = api.post("/api/runs/", {"dataset": upload.json()["id"], "settings": FAST}, format="json")
    assert created.status_code == 201, created.content
    run = run_inline(created.json()["id"])
    assert run.status == "succeeded", run.error
    rows = list(ImageResult.objects.filter(run=run))
    assert len(rows) == 2
    for row in rows:
        assert row.gt_classes and row.gt_classes == gt_class_names(run, row.image_id)
        predicted = load_prediction(row)
        names = run.class_names
        assert row.classes_present == sorted({names[i] for i in set(predicted.ravel().tolist()) if i < len(names)})
