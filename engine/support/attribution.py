"""Cross-attention attribution maps of generated images (docs/METHOD.md#attribution).

For every cross-attention layer (``attn2`` of down, mid and up blocks) at every denoising step, the attention
probabilities of the conditional half of classifier-free guidance are taken at the class-name token columns
(averaged over the tokens of a multi-token name, before or after the upsampling: ``attribution_token_order``),
upsampled (bicubic) to ``attribution_size``, clamped at 0,
summed over heads, layers and steps and divided by the head count. The sum is min-max normalised, upsampled to the
image size and renormalised. The math is in pure functions; ``AttributionRecorder`` wires them into a UNet via
diffusers attention processors.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import BadInputError


def class_token_positions(tokenizer: Any, prompt: str, class_text: str) -> list[int]:
    """Indices of the class name's tokens within the tokenized prompt (BOS included, as the text encoder sees it).

    Searches the class name's own token ids as a subsequence of the prompt's (last occurrence, since templates put
    the name at the end); falls back to the token span after the prompt prefix preceding the name.
    """
    ids: list[int] = tokenizer(prompt).input_ids
    name_ids: list[int] = tokenizer(class_text, add_special_tokens=False).input_ids
    n = len(name_ids)
    if n:
        for start in range(len(ids) - n, -1, -1):
            if ids[start : start + n] == name_ids:
                return list(range(start, start + n))
    at = prompt.rfind(class_text)
    if at < 0:
        raise BadInputError("class name does not occur in the prompt", item=repr(class_text))
    prefix = tokenizer(prompt[:at]).input_ids[:-1]  # drop EOS
    upto = tokenizer(prompt[: at + len(class_text)]).input_ids[:-1]
    positions = list(range(len(prefix), len(upto)))
    if not positions:
        raise BadInputError("class name gives no tokens", item=repr(class_text))
    return positions


def layer_grid(n_pixels: int, latent_hw: tuple[int, int]) -> tuple[int, int]:
    """Height and width of a UNet layer's token grid, from its token count and the latent's aspect ratio."""
    lh, lw = latent_hw
    factor = math.sqrt(lh * lw / n_pixels)
    h, w = max(1, round(lh / factor)), max(1, round(lw / factor))
    if h * w != n_pixels:
        raise ValueError(f"cannot place {n_pixels} attention rows on a grid of aspect {lh}x{lw}")
    return h, w


def layer_attribution(token_probs: torch.Tensor, latent_hw: tuple[int, int], size: int) -> torch.Tensor:
    """One layer's contribution: ``token_probs`` (B, heads, HW) -> (B, size, size).

    Each head's map is upsampled (bicubic) to ``size``, clamped at 0 (bicubic overshoots), summed over heads and
    divided by the head count.
    """
    b, heads, n = token_probs.shape
    h, w = layer_grid(n, latent_hw)
    maps = token_probs.float().reshape(b * heads, 1, h, w)
    maps = F.interpolate(maps, size=(size, size), mode="bicubic", align_corners=False).clamp_min(0)
    return maps.reshape(b, heads, size, size).sum(dim=1) / heads


def minmax(maps: torch.Tensor) -> torch.Tensor:
    """Per-map min-max normalisation of (B, H, W) to [0, 1]; a constant map becomes zeros."""
    flat = maps.flatten(1)
    lo = flat.min(dim=1).values.view(-1, 1, 1)
    hi = flat.max(dim=1).values.view(-1, 1, 1)
    span = hi - lo
    return torch.where(span > 0, (maps - lo) / span.clamp_min(1e-12), torch.zeros_like(maps))


def finalize_attribution(
    accumulated: torch.Tensor, image_size: int | tuple[int, int], mode: str = "bicubic"
) -> np.ndarray:
    """Accumulated (B, A, A) sums -> float32 (B, H, W) maps in [0, 1]: normalise, upsample (``mode``: bicubic, or
    bilinear as the authors' code), renormalise."""
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    maps = minmax(accumulated.float())
    maps = F.interpolate(maps[:, None], size=size, mode=mode, align_corners=False)[:, 0]
    return minmax(maps).clamp(0, 1).cpu().numpy().astype(np.float32)


class AttributionRecorder:
    """Accumulates attribution sums while the UNet runs; one recorder per sampling batch."""

    def __init__(
        self, token_positions: list[int], latent_hw: tuple[int, int], size: int, cfg_batches: bool,
        per_token: bool = False,
    ) -> None:
        self.token_positions = list(token_positions)
        self.per_token = per_token  # upsample + clamp each token's map, then average (the code's DAAMStore)
        self.latent_hw = latent_hw
        self.size = size
        self.cfg_batches = cfg_batches  # True when the batch is [unconditional; conditional] (guidance > 1)
        self.accumulated: torch.Tensor | None = None
        self.calls = 0

    def record(self, probs: torch.Tensor, heads: int) -> None:
        """``probs``: (batch*heads, HW, T) softmax output of one cross-attention call."""
        total = probs.shape[0] // heads
        probs = probs.reshape(total, heads, probs.shape[1], probs.shape[2])
        if self.cfg_batches:
            probs = probs[total // 2 :]
        self.add_conditional(probs)

    def add_conditional(self, probs: torch.Tensor) -> None:
        """``probs``: (B, heads, HW, T) probabilities of the conditional images of one call (both capture paths).

        Class tokens are averaged before the upsampling, or with ``per_token`` each token's map is upsampled and
        clamped first and the maps averaged after."""
        if self.per_token:
            contribution = torch.stack(
                [layer_attribution(probs[..., p], self.latent_hw, self.size) for p in self.token_positions]
            ).mean(dim=0)
        else:
            contribution = layer_attribution(probs[..., self.token_positions].mean(dim=-1), self.latent_hw, self.size)
        self.accumulated = contribution if self.accumulated is None else self.accumulated + contribution
        self.calls += 1


class CrossAttentionCaptureProcessor:
    """A diffusers attention processor (explicit softmax, like ``AttnProcessor``) that reports its probabilities."""

    def __init__(self, recorder: AttributionRecorder) -> None:
        self.recorder = recorder

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channel, height * width).transpose(1, 2)
        batch, seq_len, _ = hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape
        attention_mask = attn.prepare_attention_mask(attention_mask, seq_len, batch)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)
        is_cross = encoder_hidden_states is not None
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.head_to_batch_dim(attn.to_k(encoder_hidden_states))
        value = attn.head_to_batch_dim(attn.to_v(encoder_hidden_states))
        query = attn.head_to_batch_dim(query)
        probs = attn.get_attention_scores(query, key, attention_mask)
        if is_cross:
            self.recorder.record(probs.detach(), attn.heads)
        hidden_states = attn.batch_to_head_dim(torch.bmm(probs, value))
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor
