"""Shared pieces of the benchmarks: the run context, timing with medians, synthetic banks and images.

Absolute times on a shared 2-core machine are noisy, so every figure is a ratio of two medians measured in the
same process, with the two sides interleaved where the cost allows it.
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from engine.config import OVDiffConfig
from engine.profiles import default_config
from engine.types import ClassSpec, PrototypeBank, ProtoSource

# A paper bank per class and extractor: fg = 1 class + 64 instances + 32 parts; bg kept after the stuff filter.
FG_PER_CLASS = 97
BG_PER_CLASS = 33
VOC_SHAPE = (375, 500)  # the most common PASCAL VOC image size (H, W)


@dataclass
class Context:
    """What every benchmark receives: mode, profile, repeat counts and a shared model registry."""

    quick: bool
    log: Callable[[str], None] = print
    cache: dict[str, Any] = field(default_factory=dict)  # things worth sharing between benchmarks
    _registry: Any = field(default=None, repr=False)

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    @property
    def profile(self) -> str:
        """Realistic compute needs the paper architectures; --quick shrinks to the tiny random models."""
        return "tiny" if self.quick else "paper-shape"

    @property
    def config(self) -> OVDiffConfig:
        return default_config(self.profile)

    def registry(self):  # noqa: ANN201 - engine.models.registry.ModelRegistry, shared so models load once
        from engine.models.registry import ModelRegistry

        if self._registry is None:
            self._registry = ModelRegistry(self.profile)
        return self._registry


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 0) -> float:
    """Median wall time of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    return statistics.median(timed(fn)[0] for _ in range(max(1, repeats)))


def interleaved_medians(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median time of each callable, calling them in turn (a, b, a, b, ...) so machine noise hits both alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(max(1, repeats)):
        for k, fn in fns.items():
            times[k].append(timed(fn)[0])
    return {k: statistics.median(v) for k, v in times.items()}


def machine_info() -> dict[str, Any]:
    """Enough to tell two result files' machines apart."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    mem_gib = None
    try:
        import psutil

        mem_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": mem_gib,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "load_average_1min": round(os.getloadavg()[0], 1),  # other processes on a shared machine slow every figure
    }


def test_image(shape: tuple[int, int] = VOC_SHAPE, seed: int = 0) -> np.ndarray:
    """A smooth random uint8 RGB image (contents do not change any measured cost)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(1, shape[0] // 16), max(1, shape[1] // 16), 3), dtype=np.uint8)
    from PIL import Image

    return np.array(Image.fromarray(small).resize((shape[1], shape[0]), Image.Resampling.BILINEAR))


def vocabulary(n: int, stuff_every: int = 0, prefix: str = "class") -> list[ClassSpec]:
    """n distinct classes; every ``stuff_every``-th one is stuff (0: none)."""
    return [ClassSpec(name=f"{prefix}{i:03d}", is_stuff=bool(stuff_every) and i % stuff_every == stuff_every - 1)
            for i in range(n)]


def synthetic_bank(name: str, extractor: str, dim: int, seed: int, fg: int = FG_PER_CLASS,
                   bg: int = BG_PER_CLASS) -> PrototypeBank:
    """A bank with paper counts of random prototypes: the matching cost depends on shapes only."""
    gen = torch.Generator().manual_seed(seed)
    return PrototypeBank(
        class_name=name, extractor=extractor,
        fg=torch.randn(fg, dim, generator=gen), bg=torch.randn(bg, dim, generator=gen),
        fg_sources=[ProtoSource(kind="part", mask="fg", image_index=0, cluster=i) for i in range(fg)],
        bg_sources=[ProtoSource(kind="part", mask="bg", image_index=0, cluster=i) for i in range(bg)],
    )


def synthetic_banks(classes: list[ClassSpec], dims: dict[str, int]) -> dict[str, dict[str, PrototypeBank]]:
    """class -> extractor -> synthetic bank."""
    return {c.name: {e: synthetic_bank(c.name, e, d, seed=i * 7 + j) for j, (e, d) in enumerate(dims.items())}
            for i, c in enumerate(classes)}


class FixedSelection:
    """A pre-filter stand-in that keeps a fixed list of classes: isolates matching from CLIP's class guess."""

    def __init__(self, names: list[str]) -> None:
        self.names = set(names)

    def __call__(self, image: np.ndarray, classes: list[ClassSpec]) -> list[str]:
        return [c.name for c in classes if c.name in self.names]


class ReplayExtractor:
    """Wraps a real extractor: the first call per input shape runs it (timed), later calls replay that output.

    Segmenting with replayed features costs everything a segmentation costs except the forward passes, which is
    exactly the matching overhead; ``forward_seconds`` keeps the real forward time per input shape (batch 1; on
this CPU a batch costs its size times that, see ``bench.suites.batched_windows``).
    """

    def __init__(self, extractor: Any, repeats: int = 1) -> None:
        self.inner = extractor
        self.name = extractor.name
        self.dim = extractor.dim
        if hasattr(extractor, "input_size"):
            self.input_size = extractor.input_size
        self.repeats = repeats
        self.cache: dict[tuple[int, int], torch.Tensor] = {}
        self.forward_seconds: dict[tuple[int, int], float] = {}

    def prime(self, crop: torch.Tensor) -> None:
        """Run the real forward on one (1, 3, H, W) crop, ``repeats`` times; keep the median time and output.

        An extractor whose feature grid is the same for every input size (SD and CLIP squash their input to a
        fixed square) costs the same for every window shape: it runs once and the other shapes reuse that run.
        """
        key = tuple(crop.shape[-2:])
        grid = getattr(self.inner, "grid", None)
        if grid is not None and self.cache:
            first = next(iter(self.cache))
            if grid(*key) == grid(*first) == grid(1, 1):
                self.cache[key], self.forward_seconds[key] = self.cache[first], self.forward_seconds[first]
                return
        times = []
        out = None
        with torch.inference_mode():
            for _ in range(self.repeats):
                dt, out = timed(lambda: self.inner(crop))
                times.append(dt)
        self.cache[key] = out
        self.forward_seconds[key] = statistics.median(times)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        key = tuple(images.shape[-2:])
        if key not in self.cache:
            self.prime(images[:1])
        return self.cache[key].expand(images.shape[0], -1, -1, -1)

