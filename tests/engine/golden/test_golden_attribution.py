"""Golden test: the attribution map of a generated support image, under the ``sdov`` profile.

Reference written from karazijal/sdov (commit 218566b), shares no code with engine/ (torch only):
- sd.py ``DAAMStore.__call__`` / ``get_heatmaps`` (lines 179-205): per call, the conditional half of the CFG batch;
  per class token, the (heads, a, a) probabilities upsampled bicubic to the FIRST layer's side, clamped at 0, summed
  over heads; the head count accumulates; the heatmap is store / count, then the mean over the class tokens;
- sample_support_set.py ``main`` (lines 194-201): min-max normalise (max clamped at 1e-6), bilinear to the image
  size, min-max normalise again.
The engine is driven as ``engine.support.sampling.sample_support_images`` drives it, with the sdov settings.
Tolerance: 1e-5 absolute (float32 accumulation order).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from golden_inputs import photo
from PIL import Image

from engine.profile_sdov import sdov_config
from engine.support.attribution import AttributionRecorder, finalize_attribution

SDOV = sdov_config().support
TOL = 1e-5


def ref_daam(calls: list[torch.Tensor], heads: int, tokens: list[int], out_size: int) -> torch.Tensor:
    """DAAMStore + sample_support_set.py:194-201, on (2B*heads, a*a, T) softmax outputs, unconditional half first."""
    store, count, size = None, 0, None
    for probs in calls:
        _, seq, _ = probs.shape
        m = probs.reshape(-1, heads, seq, probs.shape[-1])
        m = m[m.shape[0] // 2 :]  # is_cfg: the conditional half
        b, a = m.shape[0], int(math.sqrt(seq))
        size = size or a  # self.size is set by the first call
        m = m[..., tokens].reshape(b, heads, a, a, len(tokens)).permute(0, 4, 1, 2, 3)
        m = m.reshape(b * len(tokens), heads, a, a).float()
        m = F.interpolate(m, size=(size, size), mode="bicubic", align_corners=False).clamp(min=0)
        m = m.reshape(b, len(tokens), heads, size, size).sum(2)
        store = m if store is None else store + m
        count += heads
    hm = (store / count).mean(1, keepdim=True)  # get_heatmaps: mean over the token group

    def norm(x: torch.Tensor) -> torch.Tensor:
        x = x - x.flatten(2).min(-1, keepdim=True)[0][..., None]
        return x / x.flatten(2).max(-1, keepdim=True)[0][..., None].clamp(min=1e-6)

    hm = F.interpolate(norm(hm), size=(out_size, out_size), mode="bilinear", align_corners=False)
    return norm(hm)[:, 0]


def engine_daam(calls: list[torch.Tensor], heads: int, tokens: list[int], latent: int, out_size: int) -> np.ndarray:
    rec = AttributionRecorder(tokens, (latent, latent), latent, cfg_batches=SDOV.guidance_scale > 1,
                              per_token=SDOV.attribution_token_order == "upsample-then-mean")
    for probs in calls:
        rec.record(probs, heads)
    return finalize_attribution(rec.accumulated, out_size, SDOV.attribution_final_mode)


GRIDS = [16, 16, 8, 8, 4, 8, 8, 16, 16]  # down, mid, up: the first (largest) layer sets the DAAM side, as in SD


@pytest.mark.parametrize("seed", range(8))
def test_attribution_matches_daamstore_on_random_attention(seed):
    g = torch.Generator().manual_seed(seed)
    heads, b, tokens = 4, 2, [[5], [4, 5], [3, 4, 5]][seed % 3]
    calls = [(torch.randn(2 * b * heads, a * a, 12, generator=g) * 4).softmax(-1) for a in GRIDS]
    ours = engine_daam(calls, heads, tokens, 16, 40)
    assert np.abs(ours - ref_daam(calls, heads, tokens, 40).numpy()).max() < TOL


def _photo_attention(name: str, heads: int, tokens: int) -> list[torch.Tensor]:
    """Attention probabilities made from a real photo: per layer, the photo at the layer's side; token t's logit is
    a fixed mix of the colour channels (so class tokens attend to colour regions); one image, CFG doubled."""
    img = photo(name)
    mix = torch.linspace(-3, 3, tokens * heads * 3).reshape(heads, tokens, 3)
    calls = []
    for a in GRIDS:
        small = torch.from_numpy(np.array(Image.fromarray(img).resize((a, a), Image.Resampling.BILINEAR)))
        px = small.float().reshape(a * a, 3) / 255  # (a*a, 3)
        logits = torch.einsum("pc,htc->hpt", px, mix) * 4  # (heads, a*a, T)
        probs = logits.softmax(-1)
        uncond = torch.full_like(probs, 1.0 / tokens)
        calls.append(torch.cat([uncond, probs]))  # (2*heads, a*a, T): batch 1, unconditional first
    return calls


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_attribution_matches_daamstore_on_photo_attention(name):
    heads, tokens = 8, 6
    calls = _photo_attention(name, heads, tokens)
    for toks in ([2], [2, 3]):
        ours = engine_daam(calls, heads, toks, 16, 64)
        ref = ref_daam(calls, heads, toks, 64).numpy()
        assert np.abs(ours - ref).max() < TOL
        assert ref.min() == 0 and abs(ref.max() - 1) < 1e-6  # normalised to [0, 1] as the code writes it


def test_sdov_attribution_settings_are_the_codes():
    """The two settings above are where the engine's paper path and the code differ (sd.py:191-204,
    sample_support_set.py:199); under sdov both must be the code's."""
    assert SDOV.attribution_token_order == "upsample-then-mean"
    assert SDOV.attribution_final_mode == "bilinear"
    assert SDOV.guidance_scale == 8.0  # CFG on: the recorder keeps the conditional half
