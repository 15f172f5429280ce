"""The dinov2-small few-shot profile in the service: support images uploaded on the class page, a run queued with
the profile (API and dashboard show what it is), and a refusal, not a failed run, for classes without images."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from ovdiff_web.core.models import Run, Vocabulary
from ovdiff_web.vocabularies import services as vocab

pytestmark = pytest.mark.django_db


def _png(seed: int) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(buf, "PNG")
    return SimpleUploadedFile(f"ex{seed}.png", buf.getvalue(), content_type="image/png")


def _vocabulary(user: Any, names: list[str]) -> Vocabulary:
    voc = Vocabulary.objects.create(name="few-shot", owner=user)
    vocab.add_classes(voc, names)
    return voc


def test_runs_queue_with_the_profile_once_every_class_has_support_images(
        ui: Any, dataset: Any, user: Any, django_capture_on_commit_callbacks: Any, media_root: Path) -> None:
    voc = _vocabulary(user, ["brick", "grass", "gravel"])
    body = {"dataset": dataset.pk, "vocabulary": voc.pk, "profile": "dinov2-small"}
    refused = ui.post("/api/runs/", body, content_type="application/json")
    assert refused.status_code == 400 and "no image generator" in refused.json()["detail"]
    assert "brick, grass, gravel" in refused.json()["detail"] and not Run.objects.exists()
    for i, cls in enumerate(voc.classes.all()):
        response = ui.post(f"/classes/{cls.pk}/", {"images": [_png(2 * i), _png(2 * i + 1)]})
        assert response.status_code == 302
        cls.refresh_from_db()
        assert len(list((media_root / cls.user_support_dir).glob("*.png"))) == 2
    with django_capture_on_commit_callbacks() as callbacks:
        created = ui.post("/api/runs/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    assert len(callbacks) == 1
    run = Run.objects.get(pk=created.json()["id"])
    assert run.profile == "dinov2-small" and not run.is_random_weights and created.json()["random_weights"] is False
    assert run.settings["features"]["extractors"] == ["dino"]
    assert all(c["user_support_dir"] for c in run.vocabulary_snapshot)
    page = ui.get(f"/runs/{run.pk}/").content.decode()
    assert "data-profile-note" in page and "not Meta&#x27;s checkpoint" in page and "no Stable Diffusion" in page


def test_maskcut_layer_setting_is_checked_at_the_request(ui: Any, dataset: Any) -> None:
    """MaskCut's own block is an optional setting: null (the feature block) or a block index, nothing else."""
    def post(value: Any) -> Any:
        return ui.post("/api/runs/", {"dataset": dataset.pk, "settings": {"masks": {"maskcut_layer": value}}},
                       content_type="application/json")

    assert post(None).status_code == 201 and post(1).status_code == 201
    for bad in ("ten", 999, 1.5):
        response = post(bad)
        assert response.status_code == 400 and "maskcut_layer" in response.json()["detail"], bad
