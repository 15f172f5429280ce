"""``segment.prefilter_clip_dtype``: the pre-filter's CLIP in float16 on CUDA under ``sdov`` (the authors'
``clip.load`` on a GPU), float32 on the CPU always; ``paper`` keeps the CLIP role's precision. Checked without a
GPU: the choice is a function of the setting, the runtime and the device name."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from engine.errors import BadInputError
from engine.features.text_cache import CachedClipScorer
from engine.profiles import default_config
from engine.runtime import prefilter_dtype_name
from engine.storage.store import ArtifactStore


def test_dtype_chosen_per_profile_and_device():
    sdov, paper = default_config("sdov"), default_config("paper")
    assert sdov.segment.prefilter_clip_dtype == "float16" and paper.segment.prefilter_clip_dtype == "auto"

    def chosen(cfg, device, **runtime):
        return prefilter_dtype_name(cfg.segment.prefilter_clip_dtype, dataclasses.replace(cfg.runtime, **runtime),
                                    device)

    assert chosen(sdov, "cuda") == chosen(sdov, "cuda:1") == "float16"
    assert chosen(sdov, "cpu") == "float32"
    assert chosen(sdov, "cpu", clip_dtype="bfloat16") == "float32"  # float32 on the CPU, always
    assert chosen(paper, "cuda:0") == chosen(paper, "cpu") == "float32"  # the CLIP role's: float32 by default
    assert chosen(paper, "cuda:0", clip_dtype="float16") == "float16"  # ... or what a user chose for it
    assert chosen(paper, "cpu", clip_dtype="bfloat16") == "bfloat16"
    with pytest.raises(BadInputError, match="prefilter_clip_dtype"):
        prefilter_dtype_name("float8", paper.runtime, "cuda")


def test_float16_copy_beside_the_float32_role(tiny_registry, tmp_path):
    net, _ = tiny_registry.clip()
    assert tiny_registry.clip_in("float32")[0] is net
    half, _ = tiny_registry.clip_in("float16")
    assert half is not net and tiny_registry.clip_in("float16")[0] is half
    assert next(half.parameters()).dtype is torch.float16 and next(net.parameters()).dtype is torch.float32
    assert tiny_registry.identity("clip", "float16") == tiny_registry.identity("clip") + "+float16"
    store = ArtifactStore(tmp_path / "store")
    full, reduced = CachedClipScorer(tiny_registry, store), CachedClipScorer(tiny_registry, store, precision="float16")
    assert full.prefix != reduced.prefix  # float16 embeddings never answer for float32 ones
    assert CachedClipScorer(tiny_registry, store, precision="float32").prefix == full.prefix  # paper's keys kept
    image = (np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)
    prompts = ["a cat", "a dog", "a cat and a dog"]
    a, b = full(image, prompts), reduced(image, prompts)
    assert a.dtype == b.dtype == torch.float32
    assert not torch.equal(a, b) and torch.allclose(a, b, atol=2e-3)  # measured 3e-4 (tiny CLIP)
