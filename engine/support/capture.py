"""Cross-attention capture on the fast path: PyTorch SDPA computes every layer's output, and the attention
probabilities the attribution needs are computed only for the conditional half of classifier-free guidance.

The reference (``runtime.attention = "eager"``) is ``CrossAttentionCaptureProcessor``: an explicit softmax over
the whole batch whose probabilities both produce the output and feed the recorder. Here the output comes from
``F.scaled_dot_product_attention`` (fused kernels, no (B, heads, HW, T) tensor kept) and the recorder gets the
softmax of the conditional images' scores only; it picks the class tokens and combines them (mean, or
``per_token``) exactly as on the reference path. Equal to the reference within float rounding
(tests/engine/test_runtime_equivalence.py).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from engine.runtime import RuntimeConfig
from engine.support.attribution import AttributionRecorder, CrossAttentionCaptureProcessor


class SDPACaptureProcessor:
    """A diffusers attention processor for ``attn2`` layers: SDPA output, conditional-half probabilities."""

    def __init__(self, recorder: AttributionRecorder) -> None:
        self.recorder = recorder
        self.reference = CrossAttentionCaptureProcessor(recorder)

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
        if encoder_hidden_states is None or attention_mask is not None or attn.spatial_norm is not None:
            return self.reference(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)
        residual = hidden_states
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channel, height * width).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        if attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        b = hidden_states.shape[0]
        q, k, v = (_heads(x, attn.heads) for x in (attn.to_q(hidden_states), attn.to_k(encoder_hidden_states),
                                                   attn.to_v(encoder_hidden_states)))
        out = F.scaled_dot_product_attention(q, k, v, scale=attn.scale)
        self._record(q, k, attn.scale)
        out = out.transpose(1, 2).reshape(b, -1, q.shape[1] * q.shape[3]).to(q.dtype)
        out = attn.to_out[1](attn.to_out[0](out))
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch, channel, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor

    def _record(self, q: torch.Tensor, k: torch.Tensor, scale: float) -> None:
        """Softmax of the conditional images' scores (float32); the recorder picks and combines the class tokens."""
        start = q.shape[0] // 2 if self.recorder.cfg_batches else 0
        scores = torch.matmul(q[start:].float(), k[start:].float().transpose(-1, -2)) * scale
        self.recorder.add_conditional(scores.softmax(dim=-1))


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, heads * d) -> (B, heads, N, d)."""
    b, n, width = x.shape
    return x.view(b, n, heads, width // heads).transpose(1, 2)


def capture_processor_map(unet: Any, recorder: AttributionRecorder, runtime: RuntimeConfig | None) -> dict[str, Any]:
    """A processor map for ``unet.set_attn_processor``: capture on every ``attn2`` (SDPA or the eager reference,
    per ``runtime.attention``), every other processor unchanged."""
    fast = runtime is None or runtime.attention == "sdpa"
    capture = SDPACaptureProcessor(recorder) if fast else CrossAttentionCaptureProcessor(recorder)
    return {name: capture if ".attn2." in name else proc for name, proc in unet.attn_processors.items()}
