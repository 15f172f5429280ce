"""Pre-filter text embeddings are encoded once per prompt and CLIP model, then shared through the store."""
from __future__ import annotations

import numpy as np
import torch

from engine.features.clip_text import clip_text_image_similarity
from engine.features.text_cache import KIND, CachedClipScorer
from engine.segment.prefilter import CategoryPrefilter
from engine.profiles import default_config
from engine.storage.store import ArtifactStore
from engine.types import ClassSpec


def _image(seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((40, 56, 3)) * 255).astype(np.uint8)


def test_cached_scores_equal_the_direct_scorer(tiny_registry, tmp_path):
    scorer = CachedClipScorer(tiny_registry, ArtifactStore(tmp_path))
    prompts = ["a cat", "a dog and a cat", "a sky"]
    direct = clip_text_image_similarity(tiny_registry, _image(0), prompts)
    assert torch.allclose(scorer(_image(0), prompts), direct, atol=1e-5)
    assert torch.allclose(scorer(_image(0), prompts[::-1]), direct.flip(0), atol=1e-5)  # from memory
    assert scorer.encoded == 3


def test_prompts_are_encoded_once_across_images_and_workers(tiny_registry, tmp_path):
    store = ArtifactStore(tmp_path)
    first = CachedClipScorer(tiny_registry, store)
    first(_image(0), ["a cat", "a dog"])
    first(_image(1), ["a dog", "a cow"])  # another image: only the new prompt is encoded
    assert first.encoded == 3 and len(store.keys(KIND)) == 2
    other_worker = CachedClipScorer(tiny_registry, store)  # a fresh process reads the store, encodes nothing
    scores = other_worker(_image(2), ["a cow", "a cat", "a dog"])
    assert other_worker.encoded == 0
    assert torch.allclose(scores, clip_text_image_similarity(tiny_registry, _image(2), ["a cow", "a cat", "a dog"]),
                          atol=1e-5)


def test_prefilter_subset_search_is_not_recomputed_for_the_next_image(tiny_registry, tmp_path):
    cfg = default_config("tiny").segment
    scorer = CachedClipScorer(tiny_registry, ArtifactStore(tmp_path))
    prefilter = CategoryPrefilter(scorer, cfg)
    classes = [ClassSpec(n) for n in ("cat", "dog", "cow", "bus", "car", "tree")]
    chosen = prefilter(_image(0), classes)
    after_first = scorer.encoded
    assert chosen and after_first > len(classes)  # the class prompts and the subset prompts
    assert prefilter(_image(0), classes) == chosen and scorer.encoded == after_first
    reference = CategoryPrefilter(lambda im, p: clip_text_image_similarity(tiny_registry, im, p), cfg)
    assert prefilter(_image(3), classes) == reference(_image(3), classes)


def test_the_image_resize_choice_reaches_the_cached_image_embedding(tiny_registry, tmp_path):
    """sdov's pre-filter prep ("code") resizes without antialias, as the authors' torchvision 0.13 did."""
    image, prompts = _image(4), ["a cat", "a dog"]
    plain = CachedClipScorer(tiny_registry, ArtifactStore(tmp_path / "a"), antialias=False)
    smooth = CachedClipScorer(tiny_registry, ArtifactStore(tmp_path / "b"))
    direct = clip_text_image_similarity(tiny_registry, image, prompts, antialias=False)
    assert torch.allclose(plain(image, prompts), direct, atol=1e-5)
    assert not torch.allclose(plain(image, prompts), smooth(image, prompts), atol=1e-5)
