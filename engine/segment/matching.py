"""Prototype matching: cosine similarity of every feature cell to every prototype, max per class.

One matrix product per window and prototype chunk: raw features (N, D) @ unit prototypes (D, P_chunk), then a
segment-max per channel with ``scatter_reduce(amax)`` (no padding: the background channel alone can hold thousands
of prototypes while a class holds ~100, so a padded (C, maxP) layout would waste most of its work). Memory is
bounded by N x ``chunk`` floats for the similarity block plus the (B, N, C) result. Features are not normalised
before the product (a copy as large as the features): a pixel's max and argmax over prototypes do not depend on
its norm, so the (N, C) result is divided by the norms instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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
    _owner: dict[str, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)

    @property
    def num_channels(self) -> int:
        return len(self.offsets) - 1

    def owner(self, device: torch.device) -> torch.Tensor:
        """(P,) channel of each row, on ``device`` (computed once per table and device)."""
        key = str(device)
        if key not in self._owner:
            lengths = torch.tensor([self.offsets[c + 1] - self.offsets[c] for c in range(self.num_channels)])
            self._owner[key] = torch.repeat_interleave(torch.arange(self.num_channels), lengths).to(device)
        return self._owner[key]

    def empty_channels(self) -> list[int]:
        return [c for c in range(self.num_channels) if self.offsets[c + 1] == self.offsets[c]]

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
    (B, C, h, w) long (first prototype on ties), -1 where a channel has no prototypes (score ``empty_score``).
    """
    b, d, h, w = features.shape
    n = h * w
    c_total = table.num_channels
    device = features.device
    vectors = table.vectors.to(device)
    if vectors.shape[1] != d:
        raise ValueError(f"feature dim {d} != prototype dim {vectors.shape[1]}")
    channel = table.owner(device)  # (P,) owner channel
    scores = torch.full((b, n, c_total), float("-inf"), device=device)
    best = torch.full((b, n, c_total), -1, dtype=torch.long, device=device) if with_argmax else None
    p_total = table.offsets[-1]
    step = max(1, int(chunk))
    flat = features.float().reshape(b, d, n)
    # max/argmax over prototypes do not depend on the feature's norm: divide the (N, C) result, not the features
    inv_norm = 1.0 / flat.norm(dim=1).clamp_min(EPS)  # (B, N)
    for i in range(b):
        for start in range(0, p_total, step):
            stop = min(p_total, start + step)
            sim = flat[i].T @ vectors[start:stop].T  # (N, Pc), transposed views: no copies
            owner = channel[start:stop].expand(n, -1)
            if best is None:  # running max straight into the scores (they start at -inf)
                scores[i].scatter_reduce_(1, owner, sim, "amax")
                continue
            local = torch.full((n, c_total), float("-inf"), device=device).scatter_reduce_(1, owner, sim, "amax")
            rows = torch.arange(start, stop, device=device).expand(n, -1)
            cand = torch.where(sim == local.gather(1, owner), rows, p_total)
            local_arg = torch.full((n, c_total), p_total, device=device).scatter_reduce_(1, owner, cand, "amin")
            better = local > scores[i]
            scores[i] = torch.where(better, local, scores[i])
            best[i] = torch.where(better, local_arg, best[i])
    scores.mul_(inv_norm[:, :, None])
    empty = table.empty_channels()  # a channel without prototypes is the only one left at -inf
    if empty:
        scores[:, :, empty] = empty_score
    out_scores = scores.transpose(1, 2).reshape(b, c_total, h, w)
    if best is None:
        return out_scores, None
    ids = table.ids.to(device)
    mapped = torch.where(best >= 0, ids[best.clamp(min=0)], -1) if ids.numel() else torch.full_like(best, -1)
    return out_scores, mapped.transpose(1, 2).reshape(b, c_total, h, w)
