"""Chunked prototype matching equals brute force, whatever the chunk size."""
from __future__ import annotations

import pytest
import torch

from engine.segment.matching import PrototypeTable, l2_normalise, match_prototypes


def _table(seed: int = 0, sizes=(5, 0, 7, 1, 12), dim: int = 16) -> PrototypeTable:
    g = torch.Generator().manual_seed(seed)
    groups = [l2_normalise(torch.randn(n, dim, generator=g)) for n in sizes]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    ids = [torch.arange(s, s + n) + 100 for s, n in zip(starts, sizes)]
    return PrototypeTable.from_groups(groups, ids, dim)


def _brute(features: torch.Tensor, table: PrototypeTable):
    f = l2_normalise(features, dim=1)
    sim = torch.einsum("bdhw,pd->bphw", f, table.vectors)
    scores, best = [], []
    for c in range(table.num_channels):
        a, z = table.offsets[c], table.offsets[c + 1]
        if a == z:
            scores.append(torch.full_like(sim[:, 0], -1.0))
            best.append(torch.full_like(sim[:, 0], -1, dtype=torch.long))
        else:
            v, i = sim[:, a:z].max(dim=1)
            scores.append(v)
            best.append(table.ids[i + a])
    return torch.stack(scores, 1), torch.stack(best, 1)


@pytest.mark.parametrize("chunk", [1, 3, 7, 25, 4096])
def test_chunked_equals_brute_force(chunk):
    table = _table()
    feats = torch.randn(3, 16, 5, 6, generator=torch.Generator().manual_seed(1))
    ref_s, ref_i = _brute(feats, table)
    scores, ids = match_prototypes(feats, table, chunk, with_argmax=True)
    torch.testing.assert_close(scores, ref_s, atol=1e-5, rtol=0)
    assert torch.equal(ids, ref_i)
    plain, none = match_prototypes(feats, table, chunk)
    assert none is None
    torch.testing.assert_close(plain, ref_s, atol=1e-5, rtol=0)


def test_empty_channel_and_planted_winner():
    table = _table(sizes=(3, 0))
    feats = table.vectors[2].reshape(1, 16, 1, 1) * 5.0  # scale must not matter
    scores, ids = match_prototypes(feats, table, 2, with_argmax=True, empty_score=-7.0)
    assert scores[0, 0, 0, 0].item() == pytest.approx(1.0, abs=1e-6)
    assert ids[0, 0, 0, 0].item() == 102
    assert scores[0, 1, 0, 0].item() == -7.0 and ids[0, 1, 0, 0].item() == -1


def test_dimension_mismatch_is_an_error():
    with pytest.raises(ValueError, match="dim"):
        match_prototypes(torch.randn(1, 8, 2, 2), _table(), 4)
