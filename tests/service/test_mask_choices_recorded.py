"""The worker's shard task records on the run which support masks the vocabulary chose
(``masks.user_fg_rule="vocabulary"``): the run's page and API show what the run used, not only what each class
page shows. In process (the real task, run eagerly; the tiny profile's random weights make a choice all the same)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.ui.factories import make_demo_dataset

pytestmark = pytest.mark.slow  # a tiny-profile shard in process: about 7 s

# each class: a crop of one colour with a block of another in it (a table with a cup: which side is the class?)
SCENES = {"brick": ((120, 80, 40), (240, 240, 240)), "grass": ((240, 240, 240), (120, 80, 40)),
          "gravel": ((30, 120, 30), (90, 90, 200))}


def _uploads(media_root: Path, cls: Any, surround: tuple, block: tuple, rng: np.random.Generator) -> None:
    folder = media_root / "user_support" / str(cls.pk) / "set"
    folder.mkdir(parents=True)
    for j in range(2):
        img = np.zeros((64, 64, 3), np.uint8) + np.array(surround, np.uint8)
        img = (img + rng.integers(0, 25, img.shape)).clip(0, 255).astype(np.uint8)
        y, x = rng.integers(14, 26, 2)
        img[y:y + 24, x:x + 24] = np.array(block, np.uint8)
        Image.fromarray(img).save(folder / f"{j}.png")
    cls.user_support_dir = f"user_support/{cls.pk}/set"
    cls.save(update_fields=["user_support_dir"])


def test_the_shard_task_records_the_vocabularys_mask_choices(db: None, user: Any, media_root: Path,
                                                            tmp_path: Path, settings: Any) -> None:
    from engine.pipeline import build_ovdiff
    from tasks.runs import segment_shard
    from ovdiff_web.common import engine_bridge
    from ovdiff_web.core.models import Run, Vocabulary
    from ovdiff_web.runs import services, state
    from ovdiff_web.vocabularies import services as vocab

    dataset = make_demo_dataset(tmp_path / "demo", n_images=1, owner=user)
    voc = Vocabulary.objects.create(name="uploads", owner=user)
    vocab.add_classes(voc, list(SCENES), initial=True)
    rng = np.random.default_rng(0)
    for cls in voc.classes.all():
        _uploads(media_root, cls, *SCENES[cls.name], rng)
    run = services.create_run(user=user, dataset=dataset, vocabulary=voc, profile="tiny",
                              overrides={"masks": {"user_fg_rule": "vocabulary"}})
    Run.objects.filter(pk=run.pk).update(support_mask_choices={"stale": {"0" * 32: "candidate:0"}})
    state.mark_running(run.pk)

    result = segment_shard.apply(args=(run.pk, 0)).get()
    assert result["images"] == 1, result
    run.refresh_from_db()
    config = engine_bridge.checked_config("tiny", run.settings)
    ovd = build_ovdiff("tiny", settings.OVDIFF_STORE_DIR, config)
    specs = run.class_specs()
    expected = ovd.vocabulary_choices(specs)
    # what the worker recorded replaced the stale value and is the engine's choice for this vocabulary (on this
    # machine the tiny profile's random features choose for "grass"; the test does not depend on which)
    assert "stale" not in run.support_mask_choices and run.support_mask_choices == expected
    body = run.support_mask_choices
    assert set(body) <= set(SCENES) and all(v.startswith("candidate:") for per in body.values() for v in per.values())
    # the segmenter asks again right after the task did (and the task asks once per shard): the answer for the
    # last vocabulary is kept, no support folder is hashed again
    ovd.support_key = lambda cls: pytest.fail("support keys computed twice for one vocabulary")
    assert ovd.vocabulary_choices(specs) == expected
