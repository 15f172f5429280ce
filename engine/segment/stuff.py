"""The "stuff" filter on background prototypes (docs/METHOD.md#stuff-filter, paper sec. 3 "Stuff filtering").

A boat's support images show water and sky around the boat, so its background prototypes look like the
foreground of the classes "water" and "sky"; left in, they would claim real water as background. With the
vocabulary known, (1) stuff classes contribute only foreground prototypes and (2) a thing class's background
prototype is dropped when its cosine to ANY stuff class's foreground prototype exceeds the threshold (0.85, the same
for every extractor). Applied per extractor over the whole vocabulary, as the authors' code does (stuff classes are
always kept by the pre-filter, so this equals filtering against the selected stuff classes).

The authors' filter leaves a class with a single background prototype unfiltered (an early return in
``filter_proto_bg2allfg``); ``stuff_filter_min_prototypes`` = 2 (``sdov``) does the same, 1 (the paper) tests every
prototype. With ``stuff_filter=False`` (the ablation) nothing is dropped
and stuff classes keep their background prototypes too. ``stuff_filter_scope="vocabulary"`` (not the paper) tests
background prototypes against the foreground of every class of the vocabulary, things too: a support crop of a
person in front of a flag must not make the flag background.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch

from engine.config import SegmentConfig
from engine.segment.matching import l2_normalise
from engine.types import PrototypeBank


def background_keep_masks(
    banks: Mapping[str, PrototypeBank], is_stuff: Mapping[str, bool], cfg: SegmentConfig
) -> dict[str, torch.Tensor]:
    """For the banks of ONE extractor (class name -> bank): class name -> bool (Q,) mask of bg prototypes kept."""
    keep = {name: torch.ones(bank.bg.shape[0], dtype=torch.bool) for name, bank in banks.items()}
    if not cfg.stuff_filter:
        return keep
    every = cfg.stuff_filter_scope == "vocabulary"
    stuff_fg = [bank.fg.float() for name, bank in banks.items()
                if (every or is_stuff.get(name, False)) and bank.fg.numel()]
    stuff_all = l2_normalise(torch.cat(stuff_fg)) if stuff_fg else None
    for name, bank in banks.items():
        if is_stuff.get(name, False):
            keep[name] = torch.zeros(bank.bg.shape[0], dtype=torch.bool)
        elif stuff_all is not None and bank.bg.shape[0] >= max(1, cfg.stuff_filter_min_prototypes):
            sim = l2_normalise(bank.bg.float()) @ stuff_all.to(bank.bg.device).T  # (Q, S)
            keep[name] = (sim <= cfg.stuff_filter_threshold).all(dim=1).cpu()
    return keep
