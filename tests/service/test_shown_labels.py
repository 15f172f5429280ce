"""The worker keeps, next to the engine's prediction file, a label map in the dashboard's legend indices: a
vocabulary class the dataset has no label for is its own index there (and "no dataset label" in the engine file
and the metrics), so overlays and legends can show every class the vocabulary predicted."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

FAST = {"support": {"n_images": 2, "num_inference_steps": 4},
        "masks": {"proposer": "attribution", "use_instance_masks": False}}


def test_segment_shard_writes_labels_with_every_vocabulary_class(user: Any, media_root: Path, tmp_path: Path,
                                                                 settings: Any) -> None:
    from engine.evaluation.demo_data import write_demo_dataset
    from engine.images import load_label_png
    from ovdiff_web.core.models import Dataset, Run, RunShard, Vocabulary
    from ovdiff_web.datasets.services import ingest
    from ovdiff_web.runs.legend import run_legend, shown_labels_path
    from ovdiff_web.runs.services import create_run
    from ovdiff_web.vocabularies.services import add_classes
    from tasks.runs import segment_shard

    settings.OVDIFF_STORE_DIR = tmp_path / "store"
    root = write_demo_dataset(tmp_path / "demo", n_images=1, size=24, seed=0)
    dataset = ingest(Dataset.objects.create(name="demo", format="folder", source="server", root=str(root),
                                            split="val"))
    vocab = Vocabulary.objects.create(name="v", owner=user)
    add_classes(vocab, ["grass", "zebra", "lava"], initial=True)
    run = create_run(user=user, dataset=dataset, vocabulary=vocab, profile="tiny", overrides=FAST)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    segment_shard.apply(args=(run.pk, 0)).get()

    result = run.image_results.get()
    n = len(run.class_names)
    legend = run_legend(run)
    assert [c["name"] for c in legend if not c["in_dataset"]] == ["zebra", "lava"]
    engine_file = load_label_png(media_root / result.prediction)
    shown = load_label_png(media_root / shown_labels_path(result.prediction))
    assert shown.shape == engine_file.shape and shown.max() < len(legend)
    np.testing.assert_array_equal(np.where(shown >= n, 255, shown), engine_file)  # same pixels, extras kept apart
    matrix = np.array(RunShard.objects.get(run=run, index=0).confusion)
    assert matrix.shape == (n + 1, n + 1)
    assert matrix[:, n].sum() == int((shown >= n).sum())  # extras counted in the extra column
