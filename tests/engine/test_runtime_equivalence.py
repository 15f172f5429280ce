"""Every fast path of ``engine.runtime`` matches the reference path (float32, explicit softmax, default layout)
within a stated tolerance: attribution maps, masks, prototypes and labels on the tiny models; the attribution
capture also on a paper-shape cross-attention layer (SD v1.5's first: 320 wide, 8 heads, 64x64 latent).

Tolerances: SDPA and channels-last change only the order of float operations (maps within 1e-4, images within
1 grey level, masks and labels equal on at least 99 % of pixels, prototypes at cosine >= 0.9999); bfloat16 keeps
8 bits of mantissa (features of every extractor at mean cosine >= 0.98, attribution maps correlated >= 0.9).
``runtime.compile`` has no CPU test here (compiling the models takes minutes on this machine).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from engine.config import OVDiffConfig
from engine.models.registry import ModelRegistry
from engine.pipeline import OVDiff
from engine.profiles import default_config
from engine.runtime import RuntimeConfig, reference, windows_per_batch
from engine.storage.store import ArtifactStore
from engine.types import ClassSpec

FAST = RuntimeConfig(attention="sdpa", channels_last="on")
BF16 = RuntimeConfig("bf16", "bf16", "bf16")


def _config() -> OVDiffConfig:
    """Tiny, and smaller still: 2 support images of 4 steps (the service e2e settings), MaskCut masks."""
    cfg = default_config("tiny")
    return cfg.replace(support=dataclasses.replace(cfg.support, n_images=2, num_inference_steps=4))


@pytest.fixture(scope="module")
def registries() -> dict[str, ModelRegistry]:
    return {"ref": ModelRegistry("tiny", runtime=reference()), "fast": ModelRegistry("tiny", runtime=FAST),
            "bf16": ModelRegistry("tiny", runtime=BF16)}


@pytest.fixture(scope="module")
def runs(registries, tmp_path_factory) -> dict[str, tuple]:
    """Support set, banks and a segmentation per runtime, each in its own store."""
    image = (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)
    classes = [ClassSpec("cat"), ClassSpec("sky", is_stuff=True)]
    out = {}
    for name in ("ref", "fast"):
        ovd = OVDiff(_config(), registries[name], ArtifactStore(tmp_path_factory.mktemp(name)))
        support = ovd.support_set(classes[0])
        out[name] = (support, ovd.banks(classes[0]), ovd.segment(image, classes))
        out.setdefault("window_batch_size", {})[name] = ovd.segmenter(classes).cfg.window_batch_size
    return out


@pytest.mark.slow
def test_fast_runtime_matches_reference_attribution_masks_prototypes_labels(runs):
    (s_ref, b_ref, g_ref), (s_fast, b_fast, g_fast) = runs["ref"], runs["fast"]
    for a, b in zip(s_ref.images, s_fast.images):
        assert np.abs(a.image.astype(int) - b.image.astype(int)).max() <= 1
        assert np.abs(a.attribution - b.attribution).max() <= 1e-4
        assert (a.fg_mask == b.fg_mask).mean() >= 0.99 and (a.bg_mask == b.bg_mask).mean() >= 0.99
    for e in b_ref:
        assert b_ref[e].fg.shape == b_fast[e].fg.shape
        assert torch.nn.functional.cosine_similarity(b_ref[e].fg, b_fast[e].fg, dim=1).min() >= 0.9999
    assert (g_ref.labels == g_fast.labels).mean() >= 0.99


@pytest.mark.slow
def test_windows_batch_on_cuda_only_unless_told(runs):
    """``auto``: one window per forward on the CPU (measured no faster batched), the configured batch on CUDA."""
    auto, on, off = RuntimeConfig(), RuntimeConfig(window_batching="on"), RuntimeConfig(window_batching="off")
    assert [windows_per_batch(r, 8, "cpu") for r in (auto, on, off)] == [1, 8, 1]
    assert [windows_per_batch(r, 8, "cuda:0") for r in (auto, on, off)] == [8, 8, 1]
    # the pipelines above: FAST leaves window_batching on auto, the reference path batches
    assert runs["window_batch_size"] == {"fast": 1, "ref": _config().segment.window_batch_size}


def test_registry_resolves_precision_per_role_and_device():
    assert {r: str(ModelRegistry("tiny").dtype(r)) for r in ("generator", "dino", "clip")} == \
        {"generator": "torch.float32", "dino": "torch.float32", "clip": "torch.float32"}
    cuda = ModelRegistry("tiny", device="cuda")  # nothing loads: only the resolution is checked
    assert str(cuda.dtype("generator")) == "torch.float16" and str(cuda.dtype("dino")) == "torch.float32"
    assert cuda.identity("generator").endswith("+float16") and "+" not in cuda.identity("dino")
    assert "+" not in ModelRegistry("tiny").identity("generator")  # float32 keys are unchanged
    with pytest.raises(ValueError, match="generator_dtype"):
        RuntimeConfig(generator_dtype="float8")


def test_bfloat16_features_stay_close(registries):
    cfg = _config()
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for name in cfg.features.extractors:
        ref = registries["ref"].extractor(name, cfg.features)(images)
        low = registries["bf16"].extractor(name, cfg.features)(images)
        assert low.dtype == torch.float32 and low.shape == ref.shape
        cos = torch.nn.functional.cosine_similarity(ref.flatten(2), low.flatten(2), dim=1)
        assert cos.mean() >= 0.98, (name, cos.mean())


def test_bfloat16_attribution_maps_stay_close(registries):
    from engine.support.sampling import sample_support_images

    cfg = _config().support
    ref = sample_support_images(registries["ref"], "cat", cfg)
    low = sample_support_images(registries["bf16"], "cat", cfg)
    for a, b in zip(ref, low):
        corr = np.corrcoef(a.attribution.ravel(), b.attribution.ravel())[0, 1]
        assert corr >= 0.9, corr


def test_sdpa_capture_matches_eager_on_a_paper_shape_cross_attention():
    """Both token orders (mean then upsample; sdov's per-token upsample then mean) on both capture paths.
    The end-to-end comparison above covers the default order on every layer."""
    from diffusers.models.attention_processor import Attention

    from engine.support.attribution import AttributionRecorder, CrossAttentionCaptureProcessor
    from engine.support.capture import SDPACaptureProcessor

    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        attn = Attention(query_dim=320, cross_attention_dim=768, heads=8, dim_head=40).eval()
    # a 32x32 layer (upsampled to 64) with peaked probabilities: there the two token orders differ
    hidden, text = torch.randn(2, 1024, 320, generator=gen) * 4, torch.randn(2, 77, 768, generator=gen)
    by_order = {}
    for per_token in (False, True):
        results = []
        for processor in (CrossAttentionCaptureProcessor, SDPACaptureProcessor):
            recorder = AttributionRecorder([5, 6], (64, 64), 64, cfg_batches=True, per_token=per_token)
            attn.set_processor(processor(recorder))
            with torch.inference_mode():
                results.append((attn(hidden, encoder_hidden_states=text), recorder.accumulated))
        (out_ref, acc_ref), (out_fast, acc_fast) = results
        assert torch.allclose(out_ref, out_fast, atol=1e-5)
        assert acc_ref.shape == (1, 64, 64) and torch.allclose(acc_ref, acc_fast, atol=1e-6, rtol=1e-4)
        by_order[per_token] = acc_fast
    assert not torch.allclose(by_order[False], by_order[True], atol=1e-6, rtol=1e-4)  # the order was applied
