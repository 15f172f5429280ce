"""The GPU check: ``python -m bench --device cuda --quick`` (or ``scripts/gpu_check.sh``) on a machine with a GPU.

Builds the profile's models (default ``paper-shape``: the paper architectures with random weights, so no model hub
is needed) on the device with the fast runtime (``engine.runtime`` auto: Stable Diffusion in float16 on CUDA, SDPA,
channels-last) and reports, as absolute figures named with the device:

- seconds per class for sampling (N images, 30 steps), masks (MaskCut) and banks (three extractors + k-means);
- seconds per image for segmentation at the paper's window settings, one VOC-sized image, 20 and 60 classes
  (synthetic paper-sized banks, the real CLIP pre-filter after the run's first image);
- peak GPU memory per stage (CUDA only);
- fast path / float32 reference time for sampling a batch and for segmenting an image (interleaved, best of 2).

Without the device it prints why and exits 0 with ``{"skipped": ...}``. On the CPU with ``--profile tiny`` the
same code runs in seconds (tests/bench/test_gpu_check.py), so it cannot rot.
"""
from __future__ import annotations

import dataclasses
import tempfile
import time
from typing import Any, Callable

from bench.common import FixedSelection, synthetic_banks, test_image, vocabulary

QUICK_IMAGES, FULL_IMAGES = 8, 64  # support images per class (paper N = 64)
SEGMENT_CLASSES = (20, 60)


def unavailable(device: str) -> str | None:
    """Why ``device`` cannot run here, or None."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        return f"no CUDA device visible to torch {torch.__version__} (CUDA build: {torch.version.cuda}); skipped"
    return None


class StageMeter:
    """Wall time (synchronised) and peak device memory of each measured stage."""

    def __init__(self, device: str) -> None:
        import torch

        self.cuda = device.startswith("cuda")
        self.torch = torch
        self.seconds: dict[str, float] = {}
        self.peak_gib: dict[str, float | None] = {}

    def measure(self, stage: str, fn: Callable[[], Any]) -> Any:
        if self.cuda:
            self.torch.cuda.synchronize()
            self.torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        out = fn()
        if self.cuda:
            self.torch.cuda.synchronize()
        self.seconds[stage] = time.perf_counter() - t0
        self.peak_gib[stage] = round(self.torch.cuda.max_memory_allocated() / 2**30, 3) if self.cuda else None
        return out


def run_check(device: str, profile: str, quick: bool, log: Callable[[str], None] = print,
              n_images: int | None = None) -> dict[str, Any]:
    """Every figure of the check as one JSON-ready dict (see the module docstring)."""
    why = unavailable(device)
    if why:
        log(f"[gpu_check] {why}")
        return {"skipped": why, "device": device, "profile": profile}
    import torch

    from engine.models.registry import ModelRegistry
    from engine.pipeline import OVDiff
    from engine.profiles import default_config
    from engine.runtime import RuntimeConfig
    from engine.storage.store import ArtifactStore
    from engine.types import ClassSpec

    base = default_config(profile)
    n_images = n_images or (QUICK_IMAGES if quick else FULL_IMAGES)
    config = base.replace(support=dataclasses.replace(base.support, n_images=n_images))
    meter = StageMeter(device)
    fast = ModelRegistry(profile, device=device, runtime=RuntimeConfig())
    with tempfile.TemporaryDirectory() as tmp:
        ovd = OVDiff(config, fast, ArtifactStore(tmp))
        cls = ClassSpec("red car")
        marks: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage == "sampling" and done >= total:
                marks["sampled"] = time.perf_counter()

        log(f"[gpu_check] {profile} on {device}: support set of {n_images} images ...")
        meter.measure("models", lambda: (fast.generator(), fast.dino(), fast.clip()))
        t0 = time.perf_counter()
        meter.measure("sampling_and_masks", lambda: ovd.support_set(cls, progress=progress))
        sampling = marks.get("sampled", time.perf_counter()) - t0
        log("[gpu_check] banks ...")
        meter.measure("banks", lambda: ovd.banks(cls))
        segment = {str(n): _segment_seconds(ovd, fast, n, meter, log) for n in SEGMENT_CLASSES}
        ratios = _fast_vs_fp32(profile, device, config, fast, meter, log)
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu"
    return {
        "device": device,
        "device_name": name,
        "profile": profile,
        "mode": "quick" if quick else "full",
        "runtime": dataclasses.asdict(fast.runtime),
        "dtypes": {role: str(fast.dtype(role)).removeprefix("torch.") for role in ("generator", "dino", "clip")},
        "support_images_per_class": n_images,
        "steps": config.support.num_inference_steps,
        "seconds_per_class": {"sampling": sampling, "masks": meter.seconds["sampling_and_masks"] - sampling,
                              "banks": meter.seconds["banks"]},
        "seconds_per_image_segment": segment,
        "peak_gpu_gib": meter.peak_gib,
        "fast_over_fp32": ratios,
        "seconds": dict(meter.seconds),
    }


def _segment_seconds(ovd: Any, registry: Any, n: int, meter: StageMeter, log: Callable[[str], None]) -> float:
    """Seconds for the second VOC-sized image of a run (the first warms kernels and the pre-filter's text cache)."""
    from engine.features.text_cache import CachedClipScorer
    from engine.segment.prefilter import CategoryPrefilter
    from engine.segment.segmenter import Segmenter

    cfg = ovd.config
    classes = vocabulary(n, stuff_every=4)
    extractors = {e: registry.extractor(e, cfg.features) for e in cfg.features.extractors}
    banks = synthetic_banks(classes, {e: x.dim for e, x in extractors.items()})
    prefilter = CategoryPrefilter(CachedClipScorer(registry, ovd.store), cfg.segment)
    seg = Segmenter(cfg.segment, extractors, banks, classes, prefilter, device=registry.device)
    log(f"[gpu_check] segmenting at {n} classes ...")
    seg(test_image(seed=0))
    meter.measure(f"segment_{n}", lambda: seg(test_image(seed=1)))
    return meter.seconds[f"segment_{n}"]


def _fast_vs_fp32(profile: str, device: str, config: Any, fast: Any, meter: StageMeter,
                  log: Callable[[str], None]) -> dict[str, float]:
    """Fast-path time / float32-reference time: one sampling batch, one segmentation (10 classes kept)."""
    from engine.models.registry import ModelRegistry
    from engine.runtime import reference
    from engine.segment.segmenter import Segmenter
    from engine.support.sampling import sample_support_images

    ref = ModelRegistry(profile, device=device, runtime=reference())
    support = dataclasses.replace(config.support, n_images=config.support.batch_size)
    classes = vocabulary(10)
    segs = {}
    log("[gpu_check] fast path vs float32 reference ...")
    for label, reg in (("fast", fast), ("fp32", ref)):
        extractors = {e: reg.extractor(e, config.features) for e in config.features.extractors}
        banks = synthetic_banks(classes, {e: x.dim for e, x in extractors.items()})
        segs[label] = Segmenter(config.segment, extractors, banks, classes,
                                FixedSelection([c.name for c in classes]), device=reg.device)
        segs[label](test_image(seed=0))  # warm-up: kernels are chosen per shape on the first call
    best: dict[str, float] = {}
    for _ in range(2):  # interleaved, best of two: a shared machine's noise hits both sides alike
        for label, reg in (("fast", fast), ("fp32", ref)):
            for stage, fn in ((f"sampling_batch_{label}", lambda: sample_support_images(reg, "red car", support)),
                              (f"segment_image_{label}", lambda: segs[label](test_image(seed=1)))):
                meter.measure(stage, fn)
                best[stage] = min(best.get(stage, float("inf")), meter.seconds[stage])
    meter.seconds.update(best)
    return {stage: best[f"{stage}_fast"] / best[f"{stage}_fp32"] for stage in ("sampling_batch", "segment_image")}
