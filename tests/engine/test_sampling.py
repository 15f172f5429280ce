"""Support-image sampling on the tiny generator: reproducibility, progress, cancel, input validation."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.support.attribution import CrossAttentionCaptureProcessor
from engine.errors import BadInputError, CancelledError
from engine.profiles import default_config
from engine.support.sampling import sample_support_images

CFG = dataclasses.replace(default_config("tiny").support, n_images=3, batch_size=2, num_inference_steps=4)


@pytest.fixture(scope="module")
def first(tiny_registry):
    return sample_support_images(tiny_registry, "potted plant", CFG)


def test_support_images_and_maps(first):
    assert [im.index for im in first] == [0, 1, 2]  # 3 images in batches of 2
    for im in first:
        assert im.image.shape == (64, 64, 3) and im.image.dtype == np.uint8
        assert im.attribution is not None and im.attribution.shape == (64, 64)
        assert im.attribution.dtype == np.float32
        assert im.attribution.min() == pytest.approx(0.0) and im.attribution.max() == pytest.approx(1.0)
        assert im.seed == CFG.seed and im.prompt == "A good photo of a potted plant"
    assert not np.array_equal(first[0].image, first[1].image)  # images in a batch differ


def test_same_seed_reproduces_other_seed_differs(tiny_registry, first):
    sample_support_images(tiny_registry, "cat", CFG)  # another class in between changes nothing
    again = sample_support_images(tiny_registry, "potted plant", CFG)
    for a, b in zip(first, again):
        assert np.array_equal(a.image, b.image)
        assert np.allclose(a.attribution, b.attribution, atol=1e-6)
    other = sample_support_images(tiny_registry, "potted plant", dataclasses.replace(CFG, seed=7))
    assert not np.array_equal(first[0].image, other[0].image)


def test_progress_reports_every_step(tiny_registry):
    calls: list[tuple[str, int, int]] = []
    cfg = dataclasses.replace(CFG, n_images=2)
    sample_support_images(tiny_registry, "dog", cfg, progress=lambda *a: calls.append(a))
    assert len(calls) == cfg.num_inference_steps
    assert all(stage == "sampling" and total == 2 * cfg.num_inference_steps for stage, _, total in calls)
    done = [d for _, d, _ in calls]
    assert done == sorted(done) and done[-1] == 2 * cfg.num_inference_steps


def test_cancel_stops_within_a_step_and_restores_processors(tiny_registry):
    steps: list[int] = []
    with pytest.raises(CancelledError):
        sample_support_images(
            tiny_registry, "dog", CFG, progress=lambda s, d, t: steps.append(d), cancel=lambda: len(steps) >= 2
        )
    assert len(steps) == 2  # the flag raised after step 2 stopped before step 3
    procs = tiny_registry.generator().unet.attn_processors.values()
    assert not any(isinstance(p, CrossAttentionCaptureProcessor) for p in procs)
    with pytest.raises(CancelledError):
        sample_support_images(tiny_registry, "dog", CFG, cancel=lambda: True)


def test_class_text_validation(tiny_registry):
    with pytest.raises(BadInputError, match="empty"):
        sample_support_images(tiny_registry, "   ", CFG)
    long_name = "very " * 20 + "long name"
    with pytest.raises(BadInputError, match="too long") as info:
        sample_support_images(tiny_registry, long_name, CFG)
    assert long_name in str(info.value)


def test_negative_prompt_is_used(tiny_registry, first):
    neg = sample_support_images(tiny_registry, "potted plant", dataclasses.replace(CFG, negative_prompt="blurry"))
    assert not np.array_equal(first[0].image, neg[0].image)
