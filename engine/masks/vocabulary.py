"""Choose the proposed mask of every user support image with the whole vocabulary in view
(``masks.user_fg_rule="vocabulary"``, docs/REAL_WEIGHTS.md#maskcut-with-the-vocabulary-in-view).

Seen alone, a crop cannot say which side of a cut is its class: a crop of a table shows a cup in the middle, a crop
of a cup shows the table around it, and both look alike to geometry. The vocabulary says it: when the crops alone
would give the table and the cup the same thing, one of them is wrong. Each image ``a`` picks one candidate ``k_a`` of
``engine.masks.fgbg.user_candidates`` (first mask, its complement, the other masks) to maximise

    sum_a [ w * extent(k_a) + mean over the other images b of  cos(p_a, p_b)                         (same class)
                                                               -max(0, cos(p_a, p_b) - t) / (1 - t)  (other class) ]

``extent`` is ``fgbg.extent_score`` (a crop frames its object with a margin); ``p`` the mean of the candidate's patch
features after the mean feature of all the vocabulary's images is taken away (DINOv2 features share a large common
component), unit length; ``w`` is ``masks.user_fg_vocab_weight`` and ``t`` ``masks.user_fg_vocab_conflict``. Images
of one class should show the same thing; two classes are only pushed apart when their chosen fgs are nearly the same
thing (a plain "be different" term would hand one class the background all the images share: measured on grey
textures on one gradient, docs/REAL_WEIGHTS.md). Images whose masks were given or chosen by a person take part with
their mask, fixed. Exact over every combination up to ``MAX_EXACT`` of them, else the best of iterated conditional
modes (each image in turn takes its best candidate given the others, until none changes) from each image's best
extent and from ``RESTARTS`` seeded random starts. Plain data in and out, deterministic.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.masks.fgbg import extent_score
from engine.prototypes.banks import grid_mask

MAX_EXACT = 4096  # combinations scored exactly; above, iterated conditional modes
MAX_SWEEPS = 20
RESTARTS = 32


@dataclass(frozen=True)
class Item:
    """One support image: its class, its fg candidates (image-sized bool masks; one when fixed) and its patch
    features (D, h, w) from the extractor the banks are built with."""

    cls: str
    candidates: Sequence[np.ndarray]
    feats: torch.Tensor


def _prototypes(items: Sequence[Item]) -> list[list[torch.Tensor]]:
    flat = [it.feats.float().reshape(it.feats.shape[0], -1) for it in items]
    mean = torch.cat(flat, 1).mean(1, keepdim=True)
    out = []
    for it, f in zip(items, flat):
        h, w = it.feats.shape[-2:]
        protos = []
        for m in it.candidates:
            cells = grid_mask(m, (h, w)).reshape(-1)
            vec = (f[:, cells] - mean).mean(1) if cells.any() else torch.zeros(f.shape[0])
            protos.append(F.normalize(vec, dim=0))
        out.append(protos)
    return out


def choose_candidates(items: Sequence[Item], weight: float, conflict: float = 0.85) -> list[int]:
    """The chosen candidate index of every item (0 for a fixed one); ``weight`` and ``conflict`` as in the module
    doc (``masks.user_fg_vocab_weight``, ``masks.user_fg_vocab_conflict``)."""
    if not items:
        return []
    protos = _prototypes(items)
    prior = [[weight * extent_score(m) for m in it.candidates] for it in items]
    n = len(items)

    def term(a: int, b: int) -> np.ndarray:
        cos = (torch.stack(protos[a]) @ torch.stack(protos[b]).T).numpy()
        if items[a].cls == items[b].cls:
            return cos / (n - 1)
        return -np.maximum(0.0, cos - conflict) / (1.0 - conflict) / (n - 1)

    # pair[a][b][i, j]: the pair's term in item a's mean when a takes candidate i and b candidate j (symmetric)
    pair = [[term(a, b) if a != b else np.zeros(0) for b in range(n)] for a in range(n)]

    def local(a: int, choice: list[int]) -> np.ndarray:
        """Item a's score of each of its candidates, the others fixed (its pairs count both ways)."""
        score = np.array(prior[a])
        for b in range(n):
            if b != a:
                score = score + 2 * pair[a][b][:, choice[b]]
        return score

    def total(choice: Sequence[int]) -> float:
        return sum(prior[a][choice[a]] for a in range(n)) + sum(
            2 * float(pair[a][b][choice[a], choice[b]]) for a in range(n) for b in range(a + 1, n))

    sizes = [len(it.candidates) for it in items]
    if int(np.prod(sizes, dtype=np.float64)) <= MAX_EXACT:
        return list(max(itertools.product(*[range(s) for s in sizes]), key=total))
    rng = np.random.default_rng(0)
    starts = [[int(np.argmax(p)) for p in prior]] + [[int(rng.integers(s)) for s in sizes] for _ in range(RESTARTS)]
    best: list[int] = []
    for choice in starts:
        for _ in range(MAX_SWEEPS):
            changed = False
            for a in range(n):
                score = local(a, choice)
                k = int(np.argmax(score))
                if score[k] > score[choice[a]] + 1e-12:
                    choice[a], changed = k, True
            if not changed:
                break
        if not best or total(choice) > total(best) + 1e-12:
            best = choice
    return best
