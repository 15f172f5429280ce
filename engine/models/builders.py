"""Random-weight models built from configs, no download: the ``tiny`` and ``paper-shape`` profiles.

Both profiles use the same classes as the real checkpoints (diffusers ``StableDiffusionPipeline``,
transformers ``ViTModel`` / ``Dinov2Model`` / ``CLIPModel``), so every code path is the real one. ``tiny`` shrinks
widths and depths but keeps Stable Diffusion v1.5's block structure, so layer names such as
``up_blocks.1.attentions.0`` exist. ``paper-shape`` embeds the published architectures' configs (SD v1.5,
DINO ViT-B/8, CLIP ViT-B/16) to test memory and speed at full size. Weights are seeded: the same build gives the
same model in every process, without touching the caller's global RNG.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch
from diffusers import (
    AutoencoderKL,
    DPMSolverMultistepScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import (
    CLIPConfig,
    CLIPModel,
    CLIPTextConfig,
    CLIPTextModel,
    Dinov2Config,
    Dinov2Model,
    ViTConfig,
    ViTModel,
)

from engine.profiles import BUILD_SEED
from engine.models.tokenizer import MODEL_MAX_LENGTH, build_byte_tokenizer


# Stable Diffusion v1.5 scheduler settings (scheduler_config.json of the public checkpoint).
SD15_SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "steps_offset": 1,
    "prediction_type": "epsilon",
}
SD_DOWN = ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")
SD_UP = ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")

SD15_UNET: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": SD_DOWN,
    "up_block_types": SD_UP,
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
    "norm_num_groups": 32,
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
}
SD15_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 512,
    "scaling_factor": 0.18215,
}
SD15_TEXT: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "projection_dim": 768,
}
DINO_VITB8: dict[str, Any] = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "layer_norm_eps": 1e-6,
    "image_size": 224,
    "patch_size": 8,
    "num_channels": 3,
    "qkv_bias": True,
}
CLIP_VITB16_TEXT: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 512,
    "intermediate_size": 2048,
    "num_hidden_layers": 12,
    "num_attention_heads": 8,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
}
CLIP_VITB16_VISION: dict[str, Any] = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "image_size": 224,
    "patch_size": 16,
    "hidden_act": "quick_gelu",
}

TINY_UNET: dict[str, Any] = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": SD_DOWN,
    "up_block_types": SD_UP,
    "block_out_channels": (16, 16, 32, 32),
    "layers_per_block": 2,  # as SD: up blocks hold 3 attentions, so up_blocks.3.attentions.2 exists
    "cross_attention_dim": 32,
    "attention_head_dim": 2,  # diffusers' name for the number of heads in SD v1.x configs
    "norm_num_groups": 8,
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
}
TINY_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,  # 4 blocks: x8 downsampling, as SD's VAE
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (8, 8, 8, 8),
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 4,
    "sample_size": 64,
    "scaling_factor": 0.18215,
}
TINY_TEXT: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": MODEL_MAX_LENGTH,
    "hidden_act": "quick_gelu",
    "projection_dim": 32,
}
TINY_DINO: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "layer_norm_eps": 1e-6,
    "image_size": 64,
    "patch_size": 8,
    "qkv_bias": True,
}
TINY_DINOV2: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "mlp_ratio": 2,
    "image_size": 64,
    "patch_size": 8,
}
TINY_CLIP_TEXT: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": MODEL_MAX_LENGTH,
}
TINY_CLIP_VISION: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "image_size": 32,
    "patch_size": 16,
}
TINY_CLIP_PROJECTION = 16
CLIP_VITB16_PROJECTION = 512


@contextmanager
def seeded(seed: int = BUILD_SEED) -> Iterator[None]:
    """Deterministic initialisation that leaves the caller's global RNG state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _token_ids(tokenizer: Any) -> dict[str, int]:
    """Text configs must know the tokenizer's special ids (CLIP pools the text at the first EOS)."""
    return {
        "vocab_size": max(len(tokenizer), 1),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def _generator(unet_cfg: dict, vae_cfg: dict, text_cfg: dict) -> StableDiffusionPipeline:
    tokenizer = build_byte_tokenizer()
    ids = _token_ids(tokenizer)
    text = dict(text_cfg)
    if text.get("vocab_size", 0) < ids["vocab_size"]:
        text["vocab_size"] = ids["vocab_size"]
    text.update({k: v for k, v in ids.items() if k != "vocab_size"})
    with seeded():
        unet = UNet2DConditionModel(**unet_cfg)
        vae = AutoencoderKL(**vae_cfg)
        text_encoder = CLIPTextModel(CLIPTextConfig(**text))
    scheduler = DPMSolverMultistepScheduler(**SD15_SCHEDULER)
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return pipe


def _clip(text_cfg: dict, vision_cfg: dict, projection_dim: int) -> tuple[CLIPModel, Any]:
    tokenizer = build_byte_tokenizer()
    ids = _token_ids(tokenizer)
    text = dict(text_cfg)
    text["vocab_size"] = max(text.get("vocab_size", 0), ids["vocab_size"])
    text.update({k: v for k, v in ids.items() if k != "vocab_size"})
    with seeded():
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision_cfg, projection_dim=projection_dim))
    return model, tokenizer


def tiny_generator() -> StableDiffusionPipeline:
    return _generator(TINY_UNET, TINY_VAE, TINY_TEXT)


def tiny_dino() -> ViTModel:
    with seeded():
        return ViTModel(ViTConfig(**TINY_DINO), add_pooling_layer=False)


def tiny_dinov2() -> Dinov2Model:
    with seeded():
        return Dinov2Model(Dinov2Config(**TINY_DINOV2))


def tiny_clip() -> tuple[CLIPModel, Any]:
    return _clip(TINY_CLIP_TEXT, TINY_CLIP_VISION, TINY_CLIP_PROJECTION)


def paper_shape_generator() -> StableDiffusionPipeline:
    return _generator(SD15_UNET, SD15_VAE, SD15_TEXT)


def paper_shape_dino() -> ViTModel:
    with seeded():
        return ViTModel(ViTConfig(**DINO_VITB8), add_pooling_layer=False)


def paper_shape_clip() -> tuple[CLIPModel, Any]:
    return _clip(CLIP_VITB16_TEXT, CLIP_VITB16_VISION, CLIP_VITB16_PROJECTION)
