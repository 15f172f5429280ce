"""Sampling a class's support images with Stable Diffusion, with attribution maps (docs/METHOD.md#support-sampling).

One ``torch.Generator`` seeded with ``cfg.seed`` per class, advanced batch after batch, so a class's support set is
reproducible and independent of every other class. Progress is reported as stage ``"sampling"`` in image-steps
(``done`` grows by the batch size at every denoising step; at a batch's end it is ``images_done * steps``, of
``n_images * steps``). ``cancel`` is polled before every batch and at every step; a raised flag stops within one
step with ``CancelledError``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from engine.support.attribution import AttributionRecorder, class_token_positions, finalize_attribution
from engine.support.capture import capture_processor_map
from engine.support.prompting import support_prompt
from engine.support.schedule import configured_scheduler
from engine.config import SupportConfig
from engine.errors import BadInputError, CancelledError
from engine.types import CancelFn, ProgressFn, SupportImage

STAGE = "sampling"


def validate_class_text(tokenizer: Any, class_text: str, cfg: SupportConfig) -> str:
    """The prompt for ``class_text``; empty text or a prompt over the text encoder's limit is a BadInputError."""
    if not class_text or not class_text.strip():
        raise BadInputError("class name is empty", item=repr(class_text))
    prompt = support_prompt(class_text, cfg)
    n_tokens = len(tokenizer(prompt).input_ids)
    limit = int(tokenizer.model_max_length)
    if n_tokens > limit:
        raise BadInputError(
            f"class name too long: the prompt {prompt!r} has {n_tokens} tokens, the text encoder takes {limit}",
            item=class_text,
        )
    return prompt


def sample_support_images(
    registry: Any,
    class_text: str,
    cfg: SupportConfig,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> list[SupportImage]:
    """Generate ``cfg.n_images`` images of ``class_text`` with their attribution maps."""
    if cfg.n_images < 1 or cfg.batch_size < 1:
        raise BadInputError("n_images and batch_size must be >= 1", item=f"{cfg.n_images}/{cfg.batch_size}")
    pipe = registry.generator()
    prompt = validate_class_text(pipe.tokenizer, class_text, cfg)
    scheduler = configured_scheduler(pipe.scheduler, cfg.scheduler)
    positions = class_token_positions(pipe.tokenizer, prompt, class_text.strip())
    scale = getattr(pipe, "vae_scale_factor", 8)
    latent_hw = (cfg.image_size // scale, cfg.image_size // scale)
    do_cfg = cfg.guidance_scale > 1.0
    steps = cfg.num_inference_steps
    total = cfg.n_images * steps
    generator = torch.Generator(device="cpu").manual_seed(cfg.seed)
    original, original_scheduler = pipe.unet.attn_processors, pipe.scheduler
    images: list[SupportImage] = []
    try:
        pipe.scheduler = scheduler  # support.scheduler, for this class only: the registry's pipeline is shared
        while len(images) < cfg.n_images:
            if cancel is not None and cancel():
                raise CancelledError(f"sampling {class_text!r} cancelled")
            b = min(cfg.batch_size, cfg.n_images - len(images))
            done_before = len(images) * steps
            recorder = AttributionRecorder(positions, latent_hw, cfg.attribution_size, do_cfg,
                                           per_token=cfg.attribution_token_order == "upsample-then-mean")
            pipe.unet.set_attn_processor(capture_processor_map(pipe.unet, recorder, getattr(registry, "runtime", None)))

            def on_step(_pipe: Any, step: int, _t: Any, kwargs: dict, b: int = b, base: int = done_before) -> dict:
                if progress is not None:
                    progress(STAGE, base + (step + 1) * b, total)
                if cancel is not None and cancel():
                    raise CancelledError(f"sampling {class_text!r} cancelled")
                return kwargs

            with torch.inference_mode():
                out = pipe(
                    prompt,
                    negative_prompt=cfg.negative_prompt or None,
                    num_images_per_prompt=b,
                    num_inference_steps=steps,
                    guidance_scale=cfg.guidance_scale,
                    height=cfg.image_size,
                    width=cfg.image_size,
                    generator=generator,
                    output_type="np",
                    callback_on_step_end=on_step,
                )
            if recorder.accumulated is None:
                raise RuntimeError("no cross-attention was recorded; the generator has no attn2 layers")
            maps = finalize_attribution(recorder.accumulated, cfg.image_size, cfg.attribution_final_mode)
            pixels = np.clip(np.round(np.asarray(out.images) * 255.0), 0, 255).astype(np.uint8)
            for j in range(b):
                images.append(
                    SupportImage(index=len(images), image=pixels[j], attribution=maps[j], seed=cfg.seed, prompt=prompt)
                )
    finally:
        pipe.unet.set_attn_processor(dict(original))  # diffusers pops from the dict it is given
        pipe.scheduler = original_scheduler
    return images
