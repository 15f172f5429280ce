"""Proposed masks of user images chosen with the vocabulary in view (masks.user_fg_rule "extent" / "vocabulary",
engine.masks.fgbg and engine.masks.vocabulary). The real-photo figures are in tests/engine/real/test_photo_set_real.py."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine.masks.vocabulary as vocabulary
from engine.config import MaskConfig
from engine.errors import BadInputError
from engine.masks.fgbg import candidate_fg_bg, default_candidate, extent_score, user_candidates, user_fg_bg
from engine.masks.vocabulary import Item, choose_candidates
from engine.support.curation import check_choice, chosen_fg_bg
from engine.types import SupportImage

H = W = 20


def _box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def _feats(regions: list[tuple[np.ndarray, np.ndarray]]) -> torch.Tensor:
    """(D, H, W) features: each region's pixels carry its vector (plus a common component, as DINOv2's)."""
    out = torch.zeros(4, H, W) + torch.tensor([0.0, 0.0, 0.0, 5.0])[:, None, None]
    for mask, vec in regions:
        out[:, torch.from_numpy(mask)] += torch.as_tensor(vec, dtype=torch.float32)[:, None]
    return out


CUP = np.array([1.0, 0.0, 0.0, 0.0])
TABLE = np.array([0.0, 1.0, 0.0, 0.0])


def test_extent_prefers_what_spans_the_crop_without_holding_its_border():
    obj = _box(3, 17, 3, 17)  # an object framed with a margin
    small = _box(8, 11, 8, 11)
    assert extent_score(obj) > extent_score(~obj)  # the surround holds the whole border
    assert extent_score(obj) > extent_score(small)  # a small part does not span the crop
    assert extent_score(np.zeros((H, W), bool)) == -1.0
    # a region (trees) filling the crop around a small thing standing on its edge: the region's side wins
    thing = _box(12, 20, 8, 12)
    assert default_candidate([thing], MaskConfig(user_fg_rule="extent")) == 1
    assert default_candidate([thing], MaskConfig(user_fg_rule="border")) == 0  # the border rule takes the thing


def test_candidate_fg_bg_leaves_other_objects_out_of_the_background():
    first, other = _box(2, 8, 2, 8), _box(12, 18, 12, 18)
    cands = user_candidates([first, other])
    assert [c.sum() for c in cands] == [first.sum(), (~first).sum(), other.sum()]
    fg, bg = candidate_fg_bg([first, other], 0, MaskConfig())
    assert (fg == first).all()
    assert not bg[15, 15]  # the other object is neither side
    assert bg[1, 18] and not bg[5, 5]
    fg, bg = candidate_fg_bg([first, other], 1, MaskConfig())  # the complement of an object under the border
    assert (fg == ~first).all() and not bg.any()  # share: the other side is another object, not background
    surround = ~_box(3, 17, 3, 17)  # a first mask holding the border: the complement's background
    fg, bg = candidate_fg_bg([surround], 1, MaskConfig())
    assert (fg == ~surround).all() and bg[0, 0] and not bg[10, 10]
    with pytest.raises(BadInputError, match="not a candidate 3"):
        candidate_fg_bg([first, other], 3, MaskConfig())
    fg_rule, bg_rule = user_fg_bg([first, other], MaskConfig(user_fg_rule="extent"))
    k = default_candidate([first, other], MaskConfig(user_fg_rule="extent"))
    assert (fg_rule == candidate_fg_bg([first, other], k, MaskConfig())[0]).all()
    assert (bg_rule == candidate_fg_bg([first, other], k, MaskConfig())[1]).all()


def _coffee() -> list[Item]:
    """A cup crop (the cup fills its middle, table around) and a table crop (a smaller cup in the middle, table
    around): alone each would take its middle thing; only the vocabulary says the table is the surround."""
    cup_mid = _box(3, 17, 3, 17)
    table_mid = _box(5, 15, 5, 15)
    cup = Item("cup", user_candidates([cup_mid]), _feats([(cup_mid, CUP), (~cup_mid, TABLE)]))
    table = Item("table", user_candidates([table_mid]), _feats([(table_mid, CUP), (~table_mid, TABLE)]))
    return [cup, table]


def test_the_vocabulary_tells_which_side_is_the_class():
    items = _coffee()
    alone = [int(np.argmax([extent_score(m) for m in it.candidates])) for it in items]
    assert alone == [0, 0]  # each crop alone: its middle
    assert choose_candidates(items, weight=0.5) == [0, 1]  # the table takes the surround, the cup keeps the cup
    assert choose_candidates(items[:1], weight=0.5) == [0]  # a class alone keeps its own rule
    assert choose_candidates([], weight=0.5) == []


def test_a_second_image_of_the_same_class_agrees_with_the_first():
    items = _coffee()
    mid = _box(4, 16, 4, 16)  # another table crop whose middle is ambiguous on its own
    fixed_table = Item("table", [~mid], _feats([(mid, CUP), (~mid, TABLE)]))  # its mask given: fixed
    assert choose_candidates([*items, fixed_table], weight=0.5) == [0, 1, 0]


def test_many_images_use_the_local_search_and_agree_with_the_exact_choice(monkeypatch):
    items = _coffee() * 3
    exact = choose_candidates(items, weight=0.5)
    monkeypatch.setattr(vocabulary, "MAX_EXACT", 0)
    assert choose_candidates(items, weight=0.5) == exact == [0, 1] * 3


def test_a_candidate_choice_is_a_curation_choice():
    check_choice("candidate:1")
    with pytest.raises(BadInputError, match="candidate:K"):
        check_choice("candidate:x")
    surround = ~_box(3, 17, 3, 17)
    im = SupportImage(index=0, image=np.zeros((H, W, 3), np.uint8), attribution=None, instance_masks=[surround])
    fg, bg = chosen_fg_bg(im, "candidate:1", MaskConfig())
    assert (fg == ~surround).all() and bg[0, 0] and not bg[10, 10]
    bare = SupportImage(index=0, image=np.zeros((H, W, 3), np.uint8), attribution=None)
    with pytest.raises(BadInputError, match="no proposed masks"):
        chosen_fg_bg(bare, "candidate:0", MaskConfig())
