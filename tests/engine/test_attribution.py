"""Attribution math on planted attention, and the capture processor inside a real (tiny) UNet."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.models.attention_processor import AttnProcessor

from engine.runtime import RuntimeConfig
from engine.support.attribution import (
    AttributionRecorder,
    class_token_positions,
    finalize_attribution,
    layer_attribution,
    layer_grid,
    minmax,
)
from engine.support.capture import capture_processor_map
from engine.errors import BadInputError
from engine.models.tokenizer import build_byte_tokenizer


def planted(b: int, heads: int, h: int, w: int, peaks: list[tuple[int, int]]) -> torch.Tensor:
    """(b, heads, h*w) attention with all mass at one cell per image."""
    probs = torch.zeros(b, heads, h, w)
    for i, (y, x) in enumerate(peaks):
        probs[i, :, y, x] = 1.0
    return probs.reshape(b, heads, h * w)


def argmax2d(m: np.ndarray) -> tuple[int, int]:
    return tuple(int(v) for v in np.unravel_index(np.argmax(m), m.shape))  # type: ignore[return-value]


def test_token_positions_cover_the_class_name():
    tok = build_byte_tokenizer()
    prompt = "A good photo of a potted plant"
    pos = class_token_positions(tok, prompt, "potted plant")
    ids = tok(prompt).input_ids
    assert tok.decode([ids[i] for i in pos]) == "potted plant"
    assert pos[-1] == len(ids) - 2  # last before EOS
    # the last occurrence wins ("a" also appears in the template)
    pos_a = class_token_positions(tok, "A good photo of a", "a")
    assert pos_a == [len(tok("A good photo of a").input_ids) - 2]
    with pytest.raises(BadInputError, match="cat"):
        class_token_positions(tok, "A good photo of a dog", "cat")


def test_layer_grid_follows_latent_aspect():
    assert layer_grid(64, (8, 8)) == (8, 8)
    assert layer_grid(8, (4, 8)) == (2, 4)
    with pytest.raises(ValueError):
        layer_grid(7, (8, 8))


def test_layer_attribution_peaks_at_planted_cell_and_averages_heads():
    one = layer_attribution(planted(1, 1, 4, 4, [(1, 2)]), (8, 8), 32)
    three = layer_attribution(planted(1, 3, 4, 4, [(1, 2)]), (8, 8), 32)
    assert one.shape == (1, 32, 32)
    assert torch.allclose(one, three, atol=1e-6)  # summed over heads, divided by the head count
    assert (one >= 0).all()  # bicubic overshoot clamped
    y, x = argmax2d(one[0].numpy())
    assert y // 8 == 1 and x // 8 == 2


def test_finalize_normalises_and_keeps_peak():
    acc = layer_attribution(planted(2, 2, 4, 4, [(0, 0), (3, 1)]), (8, 8), 16)
    maps = finalize_attribution(acc, 64)
    assert maps.shape == (2, 64, 64) and maps.dtype == np.float32
    for m, (py, px) in zip(maps, [(0, 0), (3, 1)]):
        assert m.min() == pytest.approx(0.0) and m.max() == pytest.approx(1.0)
        y, x = argmax2d(m)
        assert y // 16 == py and x // 16 == px
    assert finalize_attribution(torch.ones(1, 8, 8), 16).max() == 0.0  # constant map: no information


def test_minmax_per_map():
    m = minmax(torch.stack([torch.arange(4.0).view(2, 2), 10 * torch.arange(4.0).view(2, 2)]))
    assert torch.allclose(m[0], m[1]) and m.min() == 0 and m.max() == 1


def test_recorder_takes_conditional_half_and_averages_tokens():
    heads, h, w, t = 2, 4, 4, 6
    probs = torch.zeros(2, heads, h * w, t)  # batch [uncond, cond]
    probs[0, :, 0, 3] = 1.0  # unconditional half: must be ignored
    probs[1, :, 5, 3] = 1.0  # token 3 looks at cell (1, 1)
    probs[1, :, 15, 4] = 1.0  # token 4 looks at cell (3, 3)
    probs[1, :, 10, 1] = 5.0  # a token outside the class name
    rec = AttributionRecorder([3, 4], (4, 4), 16, cfg_batches=True)
    rec.record(probs.reshape(2 * heads, h * w, t), heads)
    rec.record(probs.reshape(2 * heads, h * w, t), heads)  # layers/steps add up
    acc = rec.accumulated
    assert acc is not None and acc.shape == (1, 16, 16) and rec.calls == 2
    m = finalize_attribution(acc, 16)[0]
    cell = lambda y, x: m[4 * y : 4 * y + 4, 4 * x : 4 * x + 4]  # noqa: E731  (4x4 grid upsampled x4)
    assert cell(1, 1).max() > 0.7 and cell(3, 3).max() > 0.7  # both class tokens, averaged
    assert m[:2, :2].max() < 0.05  # the unconditional peak (corner cell) is not there
    assert cell(2, 2).max() < 0.2  # nor the non-class token's


def test_capture_processor_matches_default_attention(tiny_registry):
    unet = tiny_registry.generator().unet
    original = unet.attn_processors
    n_cross = sum(".attn2." in name for name in original)
    gen = torch.Generator().manual_seed(0)
    latents = torch.randn(2, 4, 8, 8, generator=gen)
    text = torch.randn(2, 77, unet.config.cross_attention_dim, generator=gen)
    try:
        unet.set_attn_processor(AttnProcessor())
        with torch.no_grad():
            expected = unet(latents, 10, encoder_hidden_states=text).sample
        rec = AttributionRecorder([3], (8, 8), 16, cfg_batches=True)
        unet.set_attn_processor(capture_processor_map(unet, rec, RuntimeConfig(attention="eager")))
        with torch.no_grad():
            got = unet(latents, 10, encoder_hidden_states=text).sample
    finally:
        unet.set_attn_processor(dict(original))
    assert torch.allclose(got, expected, atol=1e-5)
    assert rec.calls == n_cross == 16  # every cross-attention layer: 6 down, 1 mid, 9 up
    assert rec.accumulated is not None and rec.accumulated.shape == (1, 16, 16)
