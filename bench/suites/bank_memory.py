"""Figure 4: peak memory to build one paper-size bank, against the size of its feature pool in float32.

A child process (so the parent's models and buffers do not count: its own VmHWM, not ``ru_maxrss``) builds a
bank with the paper's prototype settings from 64 images of 7,680-d features on a 64x64 grid (SD with the code's
mid block), fed in batches of 8 as the facade does; fg masks cover about half of each grid, bg about 40 %.
The child reports its
peak RSS and its RSS just before the first batch (interpreter, torch): the ratio uses the difference.
K-means is capped at 3 Lloyd iterations here: memory peaks in the first pass, later ones only cost time.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def _peak_rss_bytes() -> int:
    """VmHWM: the high-water RSS of this process's own memory map. Not ``ru_maxrss``: Linux carries that over
    exec from the parent (whose models and buffers would count), which is what a child is meant to avoid."""
    with open("/proc/self/status") as fh:
        kib = next(int(ln.split()[1]) for ln in fh if ln.startswith("VmHWM:"))
    return kib * 1024


def child(images: int, dim: int, grid: int, batch: int) -> dict:
    """Build the bank in this process and report memory figures (runs in the subprocess)."""
    import numpy as np
    import torch

    from engine.config import PrototypeConfig
    from engine.prototypes.banks import BankBuilder

    torch.manual_seed(0)
    yy, xx = np.mgrid[:grid, :grid]
    r = np.hypot(yy - grid / 2 + 0.5, xx - grid / 2 + 0.5)
    fg = r < grid * 0.4  # ~50 % of the cells
    bg = r > grid * 0.46  # ~40 %
    cfg = dataclasses.replace(PrototypeConfig(), kmeans_max_iter=3)
    builder = BankBuilder("bench", "sd", cfg)
    base = _rss_bytes()
    for s in range(0, images, batch):
        b = min(batch, images - s)
        feats = torch.randn(b, dim, grid, grid)  # what an extractor hands over: float32 (B, D, h, w)
        builder.add(feats, [fg] * b, [bg] * b)
        del feats
    rows = builder._pools["fg"].count + builder._pools["bg"].count
    bank = builder.build()
    peak = _peak_rss_bytes()
    return {"baseline_rss_bytes": base, "peak_rss_bytes": peak, "pool_rows": rows,
            "pool_float32_bytes": rows * dim * 4, "fg_prototypes": int(bank.fg.shape[0]),
            "bg_prototypes": int(bank.bg.shape[0])}


def measure(images: int, dim: int, grid: int, batch: int = 8) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.suites.bank_memory", "--images", str(images), "--dim", str(dim), "--grid", str(grid),
         "--batch", str(batch)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(ctx) -> dict:  # noqa: ANN001 - bench.common.Context
    images, dim, grid = (16, 1536, 32) if ctx.quick else (64, 7680, 64)
    m = measure(images, dim, grid)
    used = m["peak_rss_bytes"] - m["baseline_rss_bytes"]
    ratio = used / m["pool_float32_bytes"]
    peak_gib = m["peak_rss_bytes"] / 2**30
    return {
        "figures": {"bank_peak_memory_ratio": ratio, "bank_peak_memory_gib": peak_gib},
        "details": {**m, "images": images, "dim": dim, "grid": grid,
                    "pool_float32_gib": m["pool_float32_bytes"] / 2**30,
                    "target": "ratio well under 1.0 and peak < 8 GiB", "passes": ratio < 1.0 and peak_gib < 8},
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, required=True)
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--grid", type=int, required=True)
    p.add_argument("--batch", type=int, default=8)
    a = p.parse_args()
    print(json.dumps(child(a.images, a.dim, a.grid, a.batch)))
