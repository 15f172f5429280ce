"""Prototype banks: class, instance and part prototypes of one class for one extractor (docs/METHOD.md#prototypes).

Order in a bank, fg and bg alike: [class] + [one instance per support image] + [K part centroids], each switchable.
Masks are resized to the feature grid as the authors' code does (bilinear, then any non-zero value counts).
As in that code, an image whose fg mask is empty on the grid contributes nothing at all (its bg neither):
such an image is a failed generation, not background evidence.

Memory: masked features are pooled in ``cfg.pool_dtype`` (float16 by default), one image at a time; nothing
holds a float32 copy of the pool. Means accumulate in float64, K-means works chunkwise in float32.
``BankBuilder`` takes feature batches one by one, so a caller never holds every image's full feature map.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from engine.config import PrototypeConfig
from engine.errors import BadInputError
from engine.prototypes.kmeans import kmeans
from engine.types import PrototypeBank, ProtoSource

BANK_FORMAT = 1
_Side = Literal["fg", "bg"]
Box = tuple[float, float, float, float]


def grid_mask(mask: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """bool (h, w): mask resized to the feature grid, bilinear then ``> 0`` (as the authors' code)."""
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
    return F.interpolate(m, size=size, mode="bilinear", align_corners=False)[0, 0] > 0


def cells_box(ys: torch.Tensor, xs: torch.Tensor, h: int, w: int) -> Box:
    """Normalised (x0, y0, x1, y1) box around grid cells."""
    return (
        float(xs.min()) / w,
        float(ys.min()) / h,
        float(xs.max() + 1) / w,
        float(ys.max() + 1) / h,
    )


class _SidePool:
    """Masked features of one side (fg or bg) across images, plus where each row came from."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype
        self.rows: list[torch.Tensor] = []  # (n_i, D) in pool dtype
        self.image: list[torch.Tensor] = []  # (n_i,) image index of each row
        self.cell: list[torch.Tensor] = []  # (n_i,) flat grid position of each row
        self.instances: list[tuple[torch.Tensor, ProtoSource]] = []
        self.total: torch.Tensor | None = None  # float64 (D,) sum of every pooled feature
        self.count = 0
        self.grid: dict[int, tuple[int, int]] = {}

    def add(self, side: _Side, index: int, feats: torch.Tensor, cells: torch.Tensor, hw: tuple[int, int]) -> None:
        """feats (D, h*w) of one image; cells: flat indices of the masked grid cells (non-empty)."""
        sel = feats[:, cells].t()  # (n, D), a copy in the input dtype
        s = sel.sum(0, dtype=torch.float64)
        n = int(cells.numel())
        self.total = s if self.total is None else self.total + s
        self.count += n
        h, w = hw
        box = cells_box(cells // w, cells % w, h, w)
        self.instances.append(
            ((s / n).float(), ProtoSource(kind="instance", mask=side, image_index=index, box=box, size=n))
        )
        self.rows.append(sel.to(self.dtype))
        self.image.append(torch.full((n,), index, dtype=torch.int64))
        self.cell.append(cells.to(torch.int64))
        self.grid[index] = hw


def _consolidate(pieces: list[torch.Tensor]) -> torch.Tensor:
    """One (N, D) tensor from row blocks, copied and released block by block so the pool is never held twice.

    ``pieces`` is left holding just the result (a bank can be built again)."""
    if len(pieces) == 1:
        return pieces[0]
    out = torch.empty(sum(p.shape[0] for p in pieces), pieces[0].shape[1], dtype=pieces[0].dtype)
    at = 0
    pieces.reverse()
    while pieces:
        block = pieces.pop()
        out[at:at + block.shape[0]] = block
        at += block.shape[0]
        del block
    pieces.append(out)
    return out


class BankBuilder:
    """Streaming prototype-bank builder: ``add`` feature batches, then ``build`` once."""

    def __init__(self, class_name: str, extractor_name: str, cfg: PrototypeConfig) -> None:
        self.class_name, self.extractor, self.cfg = class_name, extractor_name, cfg
        dtype = torch.float16 if cfg.pool_dtype == "float16" else torch.float32
        self._pools: dict[_Side, _SidePool] = {"fg": _SidePool(dtype), "bg": _SidePool(dtype)}
        self._dim: int | None = None
        self._next_index = 0
        self.skipped: list[int] = []  # images with an empty fg on the feature grid

    def add(
        self,
        features: torch.Tensor,
        fg_masks: Sequence[np.ndarray],
        bg_masks: Sequence[np.ndarray | None],
        image_indices: Sequence[int] | None = None,
    ) -> None:
        """features (B, D, h, w) (any float dtype, any device: moved to CPU); masks bool (H, W) per image."""
        if features.ndim != 4:
            raise BadInputError(f"expected features (B, D, h, w), got shape {tuple(features.shape)}", "features")
        b, dim, h, w = features.shape
        if len(fg_masks) != b or len(bg_masks) != b:
            raise BadInputError(f"{b} feature maps but {len(fg_masks)} fg / {len(bg_masks)} bg masks", "masks")
        if self._dim is not None and dim != self._dim:
            raise BadInputError(f"feature dim {dim} differs from earlier batches ({self._dim})", "features")
        self._dim = dim
        if image_indices is None:
            image_indices = range(self._next_index, self._next_index + b)
        image_indices = list(image_indices)
        self._next_index = max([self._next_index - 1, *image_indices]) + 1
        flat = features.detach().to("cpu").reshape(b, dim, h * w)
        for i in range(b):
            fg = grid_mask(fg_masks[i], (h, w)).reshape(-1).nonzero().flatten()
            if fg.numel() == 0:
                self.skipped.append(image_indices[i])
                continue
            self._pools["fg"].add("fg", image_indices[i], flat[i], fg, (h, w))
            if bg_masks[i] is not None:
                bg = grid_mask(bg_masks[i], (h, w)).reshape(-1).nonzero().flatten()
                if bg.numel():
                    self._pools["bg"].add("bg", image_indices[i], flat[i], bg, (h, w))

    def part_count(self, side: _Side) -> int:
        """Part prototypes of a side under ``cfg.parts_rule`` (and ``parts_balance`` for bg)."""
        cfg, count = self.cfg, self._pools[side].count
        if not cfg.use_parts or cfg.kmeans_k <= 0 or count == 0:
            return 0
        k = cfg.kmeans_k
        if cfg.parts_rule == "adaptive":
            k = min(k, count // max(1, cfg.parts_patches_per_part))
        if side == "bg" and cfg.parts_balance:
            k = min(k, self.part_count("fg"))
        return k

    def _side(self, side: _Side) -> tuple[torch.Tensor, list[ProtoSource]]:
        pool, cfg, dim = self._pools[side], self.cfg, self._dim or 0
        vecs: list[torch.Tensor] = []
        sources: list[ProtoSource] = []
        if pool.count == 0:
            return torch.zeros(0, dim), sources
        if cfg.use_class:
            vecs.append((pool.total / pool.count).float()[None])  # type: ignore[operator]
            sources.append(ProtoSource(kind="class", mask=side, image_index=None, size=pool.count))
        if cfg.use_instance:
            vecs.append(torch.stack([v for v, _ in pool.instances]))
            sources.extend(s for _, s in pool.instances)
        n_parts = self.part_count(side)
        if n_parts > 0:
            rows = _consolidate(pool.rows)
            res = kmeans(rows, n_parts, max_iter=cfg.kmeans_max_iter, tol=cfg.kmeans_tol, seed=cfg.kmeans_seed)
            del rows
            images, cells = torch.cat(pool.image), torch.cat(pool.cell)
            vecs.append(res.centroids)
            for j in range(res.centroids.shape[0]):
                members = res.labels == j
                size = int(members.sum())
                if size == 0:
                    sources.append(ProtoSource(kind="part", mask=side, image_index=None, cluster=j))
                    continue
                img = int(torch.bincount(images[members]).argmax())
                here = cells[members & (images == img)]
                h, w = pool.grid[img]
                box = cells_box(here // w, here % w, h, w)
                sources.append(ProtoSource(kind="part", mask=side, image_index=img, cluster=j, box=box, size=size))
        out = torch.cat(vecs).float() if vecs else torch.zeros(0, dim)
        return out, sources

    def build(self, key: str = "", support_key: str = "") -> PrototypeBank:
        """The bank; raises ``BadInputError`` naming the class when no image has any foreground."""
        if self._pools["fg"].count == 0:
            raise BadInputError("no support image has a non-empty foreground mask", self.class_name)
        fg, fg_src = self._side("fg")
        bg, bg_src = self._side("bg")
        return PrototypeBank(
            class_name=self.class_name,
            extractor=self.extractor,
            fg=fg,
            bg=bg,
            fg_sources=fg_src,
            bg_sources=bg_src,
            key=key,
            support_key=support_key,
        )


def build_bank(
    class_name: str,
    extractor_name: str,
    features: torch.Tensor,
    fg_masks: Sequence[np.ndarray],
    bg_masks: Sequence[np.ndarray | None],
    cfg: PrototypeConfig,
    image_indices: Sequence[int] | None = None,
) -> PrototypeBank:
    """One-shot ``BankBuilder``: features (B, D, h, w) with one fg and bg mask (H, W) per image."""
    builder = BankBuilder(class_name, extractor_name, cfg)
    builder.add(features, fg_masks, bg_masks, image_indices)
    return builder.build()


def _source_to_json(s: ProtoSource) -> dict:
    return dataclasses.asdict(s)


def _source_from_json(d: dict) -> ProtoSource:
    box = d.get("box")
    return ProtoSource(
        kind=d["kind"],
        mask=d["mask"],
        image_index=d.get("image_index"),
        cluster=d.get("cluster"),
        box=tuple(box) if box is not None else None,  # type: ignore[arg-type]
        size=int(d.get("size", 0)),
    )


def save_bank(bank: PrototypeBank, dirpath: Path | str) -> None:
    """``prototypes.safetensors`` (fg, bg float32) + ``bank.json`` (names, keys, provenance)."""
    d = Path(dirpath)
    d.mkdir(parents=True, exist_ok=True)
    save_file(
        {"fg": bank.fg.detach().float().cpu().contiguous(), "bg": bank.bg.detach().float().cpu().contiguous()},
        str(d / "prototypes.safetensors"),
    )
    meta = {
        "format": BANK_FORMAT,
        "class_name": bank.class_name,
        "extractor": bank.extractor,
        "key": bank.key,
        "support_key": bank.support_key,
        "fg_sources": [_source_to_json(s) for s in bank.fg_sources],
        "bg_sources": [_source_to_json(s) for s in bank.bg_sources],
    }
    (d / "bank.json").write_text(json.dumps(meta, indent=1))


def load_bank(dirpath: Path | str) -> PrototypeBank:
    """Inverse of ``save_bank``; a missing or inconsistent file raises ``BadInputError`` naming it."""
    d = Path(dirpath)
    try:
        meta = json.loads((d / "bank.json").read_text())
        tensors = load_file(str(d / "prototypes.safetensors"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"unreadable prototype bank ({exc})", str(d)) from exc
    bank = PrototypeBank(
        class_name=meta["class_name"],
        extractor=meta["extractor"],
        fg=tensors["fg"],
        bg=tensors["bg"],
        fg_sources=[_source_from_json(s) for s in meta["fg_sources"]],
        bg_sources=[_source_from_json(s) for s in meta["bg_sources"]],
        key=meta.get("key", ""),
        support_key=meta.get("support_key", ""),
    )
    if len(bank.fg_sources) != bank.fg.shape[0] or len(bank.bg_sources) != bank.bg.shape[0]:
        raise BadInputError("prototype count differs from its provenance list", str(d / "bank.json"))
    return bank
