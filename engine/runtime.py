"""How the models run on a device: precision per model role, attention kernels, memory layout, compilation.

The ``runtime`` settings group never changes what the method computes beyond floating-point rounding, so it is
not hashed into artifact keys, with one exception: a role running in a reduced precision (float16/bfloat16, or
the DINO role on ONNX Runtime int8) gets that precision appended to its weights' identity
(``ModelRegistry.identity``), so reduced-precision artifacts never answer for float32 ones. SDPA, channels-last and bfloat16 have CPU tests against the reference path
(``runtime.reference()``) with stated tolerances (tests/engine/test_runtime_equivalence.py); ``compile`` is
optional and untested on the CPU (minutes to compile here).

``auto`` resolves per device: on CUDA the authors' choices (Stable Diffusion in float16, DINO and CLIP in
float32, channels-last convolutions, windows batched); on the CPU float32 everywhere, the default memory
layout and one window per forward (batching measured no faster there: ``windows_per_batch``).
Attention: ``sdpa`` runs PyTorch's ``scaled_dot_product_attention`` in every attention the attribution does not
read; the cross-attention layers that feed attribution keep an explicit softmax, computed only for the
conditional half of classifier-free guidance (``engine.support.capture``). ``eager`` is the reference: explicit
softmax everywhere.
DINO backend (``dino_backend``): the DINO role's forward on ONNX Runtime for the CPU (``engine.features.dino_onnx``:
a graph that stops at the block read, fused attention, optionally int8 weights); ``auto`` picks onnx-int8 for the
dinov2-small profile on the CPU, whose labels on the real-photo set were measured 99.3-99.4 % equal to torch's with
the mIoU within 0.002 in 0.57-0.71 of torch's time (docs/REAL_WEIGHTS.md "CPU runtime"; onnx-fp32, whose labels are
torch's, took 0.86-0.88), and torch elsewhere (the ``paper``/``sdov`` profiles keep torch). MaskCut's backbone stays on torch.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from engine.errors import BadInputError

if TYPE_CHECKING:
    import torch

DType = Literal["auto", "float32", "float16", "bfloat16"]
# maskcut (the backbone MaskCut cuts with, a DINO) runs in DINO's precision.
ROLE_DTYPE_FIELDS: dict[str, str] = {"generator": "generator_dtype", "dino": "dino_dtype", "clip": "clip_dtype",
                                     "maskcut": "dino_dtype"}
# The authors' precision per role on a GPU (karazijal/sdov runs the diffusion pipeline in float16).
CUDA_DEFAULT_DTYPES: dict[str, str] = {"generator": "float16", "dino": "float32", "clip": "float32",
                                       "maskcut": "float32"}
DTYPE_ALIASES: dict[str, str] = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
DINO_BACKENDS: tuple[str, ...] = ("torch", "onnx-fp32", "onnx-int8")
INT8_KEEP_FP32: tuple[str, ...] = ("none", "read", "first-fc1+read", "first-mlp+read", "first+read",
                                   "attention+read")
# Profiles whose DINO forward runs on ONNX Runtime (int8) under dino_backend=auto on the CPU (measured there).
ONNX_AUTO_PROFILES: frozenset[str] = frozenset({"dinov2-small"})


@dataclass(frozen=True)
class RuntimeConfig:
    """Device-level speed settings; ``auto`` picks per device (see the module docstring)."""

    generator_dtype: DType = "auto"  # Stable Diffusion (UNet, VAE, text encoder); CUDA auto: float16
    dino_dtype: DType = "auto"  # CUDA auto: float32
    clip_dtype: DType = "auto"  # CUDA auto: float32
    attention: Literal["sdpa", "eager"] = "sdpa"  # eager = explicit softmax everywhere (the reference path)
    channels_last: Literal["auto", "on", "off"] = "auto"  # convolutions of the UNet/VAE; CUDA auto: on
    compile: bool = False  # torch.compile the UNet, VAE decoder and the ViTs (slow first call)
    window_batching: Literal["auto", "on", "off"] = "auto"  # off: one window per forward; CUDA auto: on
    # DINO role's forward: torch, or ONNX Runtime (CPU) in float32 or int8; auto: onnx-int8 for the dinov2-small
    # profile on the CPU with onnxruntime installed (measured, docs/REAL_WEIGHTS.md "CPU runtime"), else torch.
    dino_backend: Literal["auto", "torch", "onnx-fp32", "onnx-int8"] = "auto"
    dino_int8_keep_fp32: str = "first-fc1+read"  # nodes onnx-int8 keeps in float32 (dino_graph.KEEP_FP32)
    onnx_threads: int = 0  # ONNX Runtime intra-op threads; 0: torch.get_num_threads()

    def __post_init__(self) -> None:
        for name in dict.fromkeys(ROLE_DTYPE_FIELDS.values()):
            value = getattr(self, name)
            if value in DTYPE_ALIASES:
                object.__setattr__(self, name, DTYPE_ALIASES[value])
            elif value not in ("auto", "float32", "float16", "bfloat16"):
                raise ValueError(f"runtime.{name} must be auto, float32, float16 or bfloat16 (fp32/fp16/bf16)")
        if self.dino_backend not in ("auto",) + DINO_BACKENDS:
            raise ValueError(f"runtime.dino_backend must be auto, {', '.join(DINO_BACKENDS)}")
        if self.dino_int8_keep_fp32 not in INT8_KEEP_FP32:
            raise ValueError(f"runtime.dino_int8_keep_fp32 must be one of {', '.join(INT8_KEEP_FP32)}")
        if isinstance(self.onnx_threads, bool) or not isinstance(self.onnx_threads, int) or self.onnx_threads < 0:
            raise ValueError("runtime.onnx_threads must be an integer >= 0 (0: as many as torch)")
        if self.attention not in ("sdpa", "eager"):
            raise ValueError("runtime.attention must be sdpa or eager")
        for name in ("channels_last", "window_batching"):
            value = getattr(self, name)
            if isinstance(value, bool):
                object.__setattr__(self, name, "on" if value else "off")
            elif value not in ("auto", "on", "off"):
                raise ValueError(f"runtime.{name} must be auto, on or off")


def reference() -> RuntimeConfig:
    """The reference path every fast path is tested against: float32, explicit softmax, no layout change."""
    return RuntimeConfig("float32", "float32", "float32", "eager", "off", False, "on")


def is_cuda(device: Any) -> bool:
    return str(device).startswith("cuda")


def dtype_name(runtime: RuntimeConfig, role: str, device: Any) -> str:
    """The precision a role runs in on ``device`` ("float32", "float16" or "bfloat16")."""
    value = getattr(runtime, ROLE_DTYPE_FIELDS[role])
    if value != "auto":
        return value
    return CUDA_DEFAULT_DTYPES[role] if is_cuda(device) else "float32"


def prefilter_dtype_name(setting: str, runtime: RuntimeConfig, device: Any) -> str:
    """The precision of the category pre-filter's CLIP (``segment.prefilter_clip_dtype``): ``auto`` runs the CLIP
    role as loaded (``runtime.clip_dtype``; float32 by default, on CUDA too); ``float16`` runs it in float16 on
    CUDA, as the authors' ``clip.load`` on a GPU does (karazijal/sdov ``utils/clip_class.py`` ``CLIP.__init__``),
    and in float32 on the CPU (``clip.load`` on the CPU casts to float32 too)."""
    if setting == "auto":
        return dtype_name(runtime, "clip", device)
    if setting == "float16":
        return "float16" if is_cuda(device) else "float32"
    raise BadInputError("the pre-filter's CLIP precision must be auto or float16", item="segment.prefilter_clip_dtype")


def torch_dtype(runtime: RuntimeConfig, role: str, device: Any) -> "torch.dtype":
    import torch

    return getattr(torch, dtype_name(runtime, role, device))


def _has_onnxruntime() -> bool:
    """auto falls back to torch without onnx/onnxruntime (requirements/real-weights.txt); an explicit onnx-* asks
    for them (MissingDependencyError)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


def _is_cpu(device: Any) -> bool:
    return str(device).split(":")[0] == "cpu"


def dino_backend(runtime: RuntimeConfig, profile: str, device: Any) -> str:
    """The DINO role's forward for a profile on ``device``: torch, onnx-fp32 or onnx-int8.

    ONNX Runtime runs on the CPU only here: an explicit onnx-* on another device is an error (ValueError)."""
    if runtime.dino_backend == "auto":
        fast = profile in ONNX_AUTO_PROFILES and _is_cpu(device) and _has_onnxruntime()
        return "onnx-int8" if fast else "torch"
    if runtime.dino_backend != "torch" and not _is_cpu(device):
        raise ValueError(f"runtime.dino_backend={runtime.dino_backend} runs on the CPU only; the device is {device}")
    return runtime.dino_backend


def use_channels_last(runtime: RuntimeConfig, device: Any) -> bool:
    return runtime.channels_last == "on" or (runtime.channels_last == "auto" and is_cuda(device))


def windows_per_batch(runtime: RuntimeConfig, configured: int, device: Any) -> int:
    """Windows per extractor forward: the segment setting, or 1 when batching is off.

    ``auto`` batches on CUDA only: on this project's 2-core CPU one window already fills the cores, and the bench
    (``bench/suites/batched_windows.py``) measured batches of 2, 3 and 9 windows at 1.00, 1.01 and 1.09x the time of
    one at a time on an idle machine (paper-shape CLIP, VOC-sized image)."""
    if runtime.window_batching == "off" or (runtime.window_batching == "auto" and not is_cuda(device)):
        return 1
    return max(1, configured)


def apply_runtime(role: str, model: Any, runtime: RuntimeConfig, device: Any) -> Any:
    """Set the attention kernels, memory layout and compilation of a placed model (its dtype is already set)."""
    if role == "generator":
        _generator_runtime(model, runtime, device)
        return model
    net = model[0] if role == "clip" else model
    if hasattr(net, "set_attn_implementation"):
        net.set_attn_implementation("sdpa" if runtime.attention == "sdpa" else "eager")
    if runtime.compile:
        net.compile(dynamic=False)
    return model


def _generator_runtime(pipe: Any, runtime: RuntimeConfig, device: Any) -> None:
    import torch
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    processor = AttnProcessor2_0 if runtime.attention == "sdpa" else AttnProcessor
    for part in (pipe.unet, pipe.vae):
        part.set_attn_processor(processor())
    text = pipe.text_encoder
    if hasattr(text, "set_attn_implementation"):
        text.set_attn_implementation("sdpa" if runtime.attention == "sdpa" else "eager")
    if use_channels_last(runtime, device):
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
    if runtime.compile:
        pipe.unet.compile(dynamic=False)
        pipe.vae.decoder.compile(dynamic=False)
