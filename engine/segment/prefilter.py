"""CLIP category pre-filter: which vocabulary classes are likely in the image (docs/METHOD.md#category-pre-filter).

Matching every class's prototypes against an image invites spurious matches between classes, so the authors' code
first guesses the classes present with CLIP (ablation: VOC -8.7, Context -2.4):

1. Thing classes are scored with prompts ``cfg.prefilter_prompt.format(text)`` ("a {}"); the scorer returns RAW
   cosine similarities and a softmax is taken over them WITHOUT CLIP's logit scale (so probabilities stay close
   to uniform; this is what makes the 1/|C| threshold meaningful).
2. Candidates: classes with probability >= 1/|C|, in class order. If none (cannot happen with a softmax, kept for
   fidelity): the top ``prefilter_max_classes`` by score. If more than ``prefilter_max_classes``: the top that
   many by probability, highest first.
3. Subset search (``prefilter_subset_search``): every non-empty subset of the candidates, enumerated by size then
   lexicographically in candidate order (``itertools.combinations``), is scored with the prompt
   "a X and a Y and ..." (each part formatted with the same template, joined by " and "); the first best-scoring
   subset is kept. 10 candidates give 1,023 prompts, the "1024 prompts in parallel" of the paper.
4. Stuff classes skip the classifier and are always kept.

Checked against karazijal/sdov (utils/clip_class.py ``CLIPClassifierThresh`` and predict.py). Differences: the
code hard-codes "a " + name for both stages; here the template is the setting (default "a {}", identical). The code
squashes the image to CLIP's 224x224 input; that is the scorer's job here. Which image the scorer sees is
``prefilter_image_prep``: the original ("original"), or the code's ("code": short side 448 Lanczos, predict.py:40,
then 512x512 Lanczos, mmdata.py:79-81; the scorer then squashes to 224 without antialias, clip_class.py:29).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np
import torch
from PIL import Image

from engine.config import SegmentConfig
from engine.segment.windows import resize_short_side
from engine.types import ClassSpec

# (image uint8 HxWx3, prompts) -> raw cosine similarities (len(prompts),)
Scorer = Callable[[np.ndarray, list[str]], torch.Tensor]


def subset_prompt(texts: Sequence[str], template: str) -> str:
    """'a X and a Y and ...' for the given class texts."""
    return " and ".join(template.format(t) for t in texts)


def nonempty_subsets(n: int) -> list[tuple[int, ...]]:
    """Every non-empty subset of range(n), by size then lexicographic (the code's powerset order)."""
    return [c for r in range(1, n + 1) for c in combinations(range(n), r)]


CODE_PREFILTER_SIZE = 512  # mmdata.prep_sample's square


def code_prefilter_image(image: np.ndarray, short_side: int, rounding: str = "round") -> np.ndarray:
    """The authors' pre-filter input: short side ``short_side`` (long side as ``rounding``: the code truncates) then
    ``CODE_PREFILTER_SIZE`` squared, both Lanczos."""
    work = resize_short_side(image, short_side, rounding)
    side = CODE_PREFILTER_SIZE
    return np.array(Image.fromarray(work).resize((side, side), Image.Resampling.LANCZOS))


class CategoryPrefilter:
    """Selects the classes of a vocabulary that CLIP thinks are in an image; stuff classes always pass."""

    def __init__(self, scorer: Scorer, cfg: SegmentConfig) -> None:
        self.scorer = scorer
        self.cfg = cfg

    def _scores(self, image: np.ndarray, prompts: list[str]) -> torch.Tensor:
        out = torch.as_tensor(self.scorer(image, prompts)).detach().float().reshape(-1).cpu()
        if out.numel() != len(prompts):
            raise ValueError(f"scorer returned {out.numel()} scores for {len(prompts)} prompts")
        return out

    def candidates(self, image: np.ndarray, things: Sequence[ClassSpec]) -> list[int]:
        """First stage: indices into ``things`` kept by the softmax-over-raw-cosines threshold, in code order."""
        if not things:
            return []
        k = max(1, self.cfg.prefilter_max_classes)
        sims = self._scores(image, [self.cfg.prefilter_prompt.format(c.text) for c in things])
        probs = torch.softmax(sims, dim=0)
        passed = probs >= 1.0 / len(things)
        idx = torch.nonzero(passed).flatten().tolist()
        if not idx:
            idx = torch.topk(sims, min(k, len(things))).indices.tolist()
        if len(idx) > k:
            masked = torch.where(passed, probs, torch.zeros_like(probs))
            idx = torch.topk(masked, k).indices.tolist()
        return idx

    def best_subset(self, image: np.ndarray, things: Sequence[ClassSpec], cand: list[int]) -> list[int]:
        """Second stage: the candidate subset whose joint prompt scores highest (first on ties)."""
        if len(cand) <= 1:
            return list(cand)
        subsets = nonempty_subsets(len(cand))
        prompts = [subset_prompt([things[cand[i]].text for i in s], self.cfg.prefilter_prompt) for s in subsets]
        best = int(torch.argmax(self._scores(image, prompts)).item())
        return [cand[i] for i in subsets[best]]

    def __call__(self, image: np.ndarray, classes: Sequence[ClassSpec]) -> list[str]:
        """Names of the selected classes, in vocabulary order."""
        things = [c for c in classes if not c.is_stuff]
        if self.cfg.prefilter_image_prep == "code" and things:
            image = code_prefilter_image(image, self.cfg.short_side, self.cfg.short_side_rounding)
        chosen = self.candidates(image, things)
        if self.cfg.prefilter_subset_search:
            chosen = self.best_subset(image, things, chosen)
        keep = {things[i].name for i in chosen} | {c.name for c in classes if c.is_stuff}
        return [c.name for c in classes if c.name in keep]
