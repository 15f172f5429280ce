"""Stable Diffusion features: to_q outputs of UNet cross-attention layers (docs/METHOD.md#stable-diffusion-features).

Encode with the VAE (posterior mean, or a sample with ``cfg.sd_latent="sample"``), add noise for timestep
``cfg.sd_timestep`` (200) with the DDPM forward process, run the UNet once with the empty prompt, and concatenate
every chosen layer's query map after a bilinear resize to ``cfg.sd_feature_size``. The noise is one draw from a
generator seeded with ``cfg.sd_noise_seed``, shared by every image, so a crop's features do not depend on which
batch it came in. The authors' code (``gen_proto_sd.py:247-257``) seeds a fresh generator with 43 per support image
for the VAE sample and again for the noise, so every image gets the same draw, used as both the sample's epsilon and
the noise: ``sd_latent="sample", sd_noise_seed=43`` is that rule (on the CPU generator; theirs ran on the GPU's).
For target crops their code draws unseeded noise; we keep the seeded draw so predictions are reproducible.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler

from engine.support.attribution import layer_grid
from engine.config import SD_CODE_EXTRA_LAYERS, FeatureConfig
from engine.errors import BadInputError
from engine.features.common import check_images, resize


class _Done(Exception):
    """Every wanted layer has run: the rest of the UNet is skipped."""


class SDQueryExtractor:
    """(B, 3, H, W) in [0, 1] -> (B, D, f, f), f = ``cfg.sd_feature_size``; D = sum of the layers' query widths
    (6,400 for the paper's layers of SD v1.5, 7,680 with the mid block)."""

    def __init__(self, pipe: Any, cfg: FeatureConfig, name: str = "sd") -> None:
        self.name = name
        self.unet, self.vae = pipe.unet, pipe.vae
        self.tokenizer, self.text_encoder = pipe.tokenizer, pipe.text_encoder
        self.scale = int(getattr(pipe, "vae_scale_factor", 8))
        self.cfg = cfg
        layers = list(cfg.sd_layers)
        if cfg.sd_include_mid_block:
            layers += [name_ for name_ in SD_CODE_EXTRA_LAYERS if name_ not in layers]
        if not layers:
            raise BadInputError("no Stable Diffusion layers chosen", item="features.sd_layers")
        self.layers = layers
        self._queries: list[list[torch.nn.Module]] = []
        for layer in layers:
            try:
                block = self.unet.get_submodule(layer)
            except AttributeError as exc:
                raise BadInputError("no such UNet layer", item=f"features.sd_layers: {layer}") from exc
            qs = [tb.attn2.to_q for tb in getattr(block, "transformer_blocks", []) if getattr(tb, "attn2", None)]
            if not qs:
                raise BadInputError("not a cross-attention layer", item=f"features.sd_layers: {layer}")
            self._queries.append(qs)
        self.dim = sum(q.out_features for qs in self._queries for q in qs)
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self._empty: torch.Tensor | None = None

    def grid(self, height: int, width: int) -> tuple[int, int]:
        return self.cfg.sd_feature_size, self.cfg.sd_feature_size

    def _empty_prompt(self, device: torch.device) -> torch.Tensor:
        """Text embedding of the empty prompt (unconditional), computed once."""
        if self._empty is None:
            ids = self.tokenizer(
                "", padding="max_length", max_length=self.tokenizer.model_max_length, return_tensors="pt"
            ).input_ids
            self._empty = self.text_encoder(ids.to(device))[0]
        return self._empty

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, "sd extractor")
        param = next(self.unet.parameters())
        device, dtype = param.device, param.dtype
        side = self.cfg.sd_input_size
        x = resize(images.to(device, torch.float32), (side, side), self.cfg.resize_antialias) * 2 - 1
        dist = self.vae.encode(x.to(self.vae.dtype)).latent_dist
        b = dist.mean.shape[0]
        gen = torch.Generator(device="cpu").manual_seed(int(self.cfg.sd_noise_seed))
        noise = torch.randn((1, *dist.mean.shape[1:]), generator=gen).to(device, dist.mean.dtype).expand_as(dist.mean)
        latent = dist.mean if self.cfg.sd_latent == "mean" else dist.mean + dist.std * noise
        latents = latent * self.vae.config.scaling_factor
        t = torch.full((b,), int(self.cfg.sd_timestep), dtype=torch.long, device=device)
        noisy = self.noise_scheduler.add_noise(latents, noise, t).to(dtype)
        text = self._empty_prompt(device).to(dtype).expand(b, -1, -1)

        outputs: dict[int, torch.Tensor] = {}
        wanted = [q for qs in self._queries for q in qs]
        handles = []
        for i, q in enumerate(wanted):
            def hook(_m: Any, _inp: Any, out: torch.Tensor, i: int = i) -> None:
                outputs[i] = out
                if len(outputs) == len(wanted):
                    raise _Done

            handles.append(q.register_forward_hook(hook))
        try:
            self.unet(noisy, t, encoder_hidden_states=text)
        except _Done:
            pass
        finally:
            for h in handles:
                h.remove()
        latent_hw = (latents.shape[-2], latents.shape[-1])
        size = (self.cfg.sd_feature_size, self.cfg.sd_feature_size)
        maps = []
        for i in range(len(wanted)):
            out = outputs[i]
            gh, gw = layer_grid(out.shape[1], latent_hw)
            grid = out.float().transpose(1, 2).reshape(b, -1, gh, gw)
            maps.append(F.interpolate(grid, size=size, mode="bilinear", align_corners=False))
        return torch.cat(maps, dim=1).contiguous()
