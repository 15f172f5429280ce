"""Prototype matching: cosine similarity of every feature cell to every prototype, max per class.

One batched matrix product per window batch and prototype chunk: features (B, N, D) @ prototypes (D, P_chunk).
Prototypes are laid out contiguously by output channel (class), so the per-class max is a max over a slice of the
similarity block (a segment-max without padding: the background channel alone can hold thousands of prototypes
while a class holds ~100, so a padded (C, maxP) layout would waste most of its work). Memory is bounded by
B x N x ``chunk`` floats for the similarity block plus the (B, C, N) result.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

EPS = 1e-6  # as the authors' code: norms clamped at 1e-6


def l2_normalise(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """x / ||x|| with the norm clamped away from zero (zero vectors stay zero)."""
    return x / x.norm(dim=dim, keepdim=True).clamp_min(EPS)


@dataclass
class PrototypeTable:
    """Unit-norm prototypes of one extractor, grouped by channel: channel c owns rows offsets[c]:offsets[c+1].

    ``ids`` maps each row to an index into the extractor's flattened prototype list (for explanations).
    """

    vectors: torch.Tensor  # (P, D) float32, unit norm
    offsets: list[int]  # length C + 1, non-decreasing, offsets[0] == 0, offsets[-1] == P
    ids: torch.Tensor  # (P,) long

    @property
    def num_channels(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_groups(cls, groups: list[torch.Tensor], ids: list[torch.Tensor], dim: int) -> "PrototypeTable":
        """Concatenate per-channel unit-norm blocks (each (P_c, D), possibly empty) into one table."""
        offsets = [0]
        for g in groups:
            offsets.append(offsets[-1] + int(g.shape[0]))
        vectors = torch.cat([g.reshape(-1, dim) for g in groups]) if groups else torch.zeros(0, dim)
        flat_ids = torch.cat([i.reshape(-1).long() for i in ids]) if ids else torch.zeros(0, dtype=torch.long)
        return cls(vectors.float(), offsets, flat_ids)


@torch.no_grad()
def match_prototypes(
    features: torch.Tensor,
    table: PrototypeTable,
    chunk: int,
    with_argmax: bool = False,
    empty_score: float = -1.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-channel max cosine similarity of features (B, D, h, w) to the table's prototypes.

    Returns scores (B, C, h, w) and, with ``with_argmax``, the winning prototype's ``ids`` entry per channel
    (B, C, h, w) long, -1 where a channel has no prototypes (its score is ``empty_score``).
    """
    b, d, h, w = features.shape
    n = h * w
    c_total = table.num_channels
    vectors = table.vectors.to(features.device)
    if vectors.shape[1] != d:
        raise ValueError(f"feature dim {d} != prototype dim {vectors.shape[1]}")
    feats = l2_normalise(features.float().reshape(b, d, n).transpose(1, 2), dim=-1)  # (B, N, D)
    scores = torch.full((b, c_total, n), float("-inf"), device=features.device)
    best = torch.full((b, c_total, n), -1, dtype=torch.long, device=features.device) if with_argmax else None
    p_total = table.offsets[-1]
    step = max(1, int(chunk))
    for start in range(0, p_total, step):
        stop = min(p_total, start + step)
        sim = torch.matmul(feats, vectors[start:stop].T)  # (B, N, Pc)
        for c in range(c_total):
            a, z = max(table.offsets[c], start), min(table.offsets[c + 1], stop)
            if a >= z:
                continue
            seg = sim[:, :, a - start : z - start]
            if best is None:
                scores[:, c] = torch.maximum(scores[:, c], seg.amax(dim=-1))
            else:
                val, arg = seg.max(dim=-1)
                better = val > scores[:, c]
                scores[:, c] = torch.where(better, val, scores[:, c])
                best[:, c] = torch.where(better, arg + a, best[:, c])
    empty = torch.isinf(scores)
    scores[empty] = empty_score
    if best is not None:
        ids = table.ids.to(features.device)
        mapped = torch.full_like(best, -1)
        ok = best >= 0
        mapped[ok] = ids[best[ok]]
        return scores.view(b, c_total, h, w), mapped.view(b, c_total, h, w)
    return scores.view(b, c_total, h, w), None
