"""Curated support sets: a person's exclusions and mask choices reach the banks, decisions follow their image
when images are added, and the same review is built once while an unreviewed class keeps its cached key."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from engine.class_specs import class_specs
from engine.config import ReviewConfig
from engine.errors import BadInputError
from engine.pipeline import OVDiff
from engine.profiles import default_config
from engine.storage.store import ArtifactStore
from engine.support.curation import ATTRIBUTION, chosen_fg_bg, curate, curation_from_dict, image_id
from engine.support.review import DISAGREES, DUPLICATE, EMPTY_FG, WHOLE_FG, average_hash, mask_flags, near_duplicates
from engine.types import ClassSpec, Curation, SupportImage, SupportSet


@pytest.fixture()
def ovd(tiny_registry, tmp_path):
    return OVDiff(default_config("tiny"), tiny_registry, ArtifactStore(tmp_path / "store"))


def _image(seed: int, size: int = 16) -> SupportImage:
    rng = np.random.default_rng(seed)
    inst = [np.zeros((size, size), bool), np.zeros((size, size), bool)]
    inst[0][:8], inst[1][8:] = True, True
    att = np.zeros((size, size), np.float32)
    att[:, :4] = 0.9
    return SupportImage(index=seed, image=rng.integers(0, 255, (size, size, 3), dtype=np.uint8), attribution=att,
                        fg_mask=inst[0], bg_mask=inst[1], instance_masks=inst)


def test_curate_excludes_chooses_masks_and_keeps_decisions_by_image_not_position():
    a, b, c = _image(1), _image(2), _image(3)
    cur = curation_from_dict({"excluded": {image_id(b.image): "not a cat"},
                              "masks": {image_id(c.image): "instance:1", image_id(a.image): ATTRIBUTION}})
    base = SupportSet("cat", "a cat", "generated", [a, b])
    added = SupportSet("cat", "a cat", "generated", [c, a])  # a again: kept once
    out = curate([base, added], cur, default_config("tiny").masks)
    assert [im.index for im in out.images] == [0, 1, 2]
    assert [im.excluded for im in out.images] == [None, "not a cat", None]
    assert out.images[2].mask_choice == "instance:1" and out.images[2].fg_mask[8:].all()
    assert not out.images[2].fg_mask[:8].any()
    assert out.images[0].fg_mask[:, :4].all() and not out.images[0].fg_mask[:, 4:].any()  # attribution > 0.5
    # the same decisions after more images joined in front of the old ones: they follow their images
    again = curate([SupportSet("cat", "a cat", "generated", [_image(9), b, a])], cur, default_config("tiny").masks)
    assert [im.excluded for im in again.images] == [None, "not a cat", None]


def test_a_mask_choice_the_image_cannot_satisfy_is_refused():
    im = _image(1)
    with pytest.raises(BadInputError):
        chosen_fg_bg(im, "instance:5", default_config("tiny").masks)
    with pytest.raises(BadInputError):
        curation_from_dict({"masks": {"x": "everything"}})
    assert curation_from_dict({"excluded": {}, "masks": {}}) is None


def test_review_flags_the_paper_failure_cases():
    cfg = ReviewConfig()
    att = np.zeros((20, 20), np.float32)
    att[:10] = 1.0
    empty = np.zeros((20, 20), bool)
    whole = np.ones((20, 20), bool)
    wrong = np.zeros((20, 20), bool)
    wrong[15:] = True
    right = att > 0.5
    assert mask_flags(empty, att, 0.5, cfg) == [EMPTY_FG]
    assert WHOLE_FG in mask_flags(whole, att, 0.5, cfg)
    assert mask_flags(wrong, att, 0.5, cfg) == [DISAGREES]
    assert mask_flags(right, att, 0.5, cfg) == []
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    near = np.clip(img.astype(int) + 2, 0, 255).astype(np.uint8)
    other = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    hashes = [average_hash(x) for x in (img, near, other)]
    assert near_duplicates(hashes, cfg) == [True, True, False]


def test_curated_banks_leave_excluded_images_out_and_are_built_once(ovd, monkeypatch):
    plain = ClassSpec("brick")
    ovd.banks(plain)
    support = ovd.support_set(plain)
    plain_keys = ovd.bank_keys(plain)
    drop = image_id(support.images[0].image)
    cur = Curation(excluded=((drop, "shows a wall"),))
    curated = ClassSpec("brick", curation=cur)
    assert ovd.support_key(curated) != ovd.support_key(plain)
    banks = ovd.banks(curated)
    assert all(s.image_index != 0 for b in banks.values() for s in b.fg_sources if s.image_index is not None)
    built = ovd.support_set(curated)
    assert built.images[0].excluded == "shows a wall" and len(built.images) == len(support.images)
    assert ovd.bank_keys(plain) == plain_keys and ovd.is_cached(plain), "an unreviewed class stays a cache hit"

    import engine.support.curation as curation_module

    calls = []
    monkeypatch.setattr(curation_module, "curate", lambda *a, **k: calls.append(1))
    fresh = OVDiff(ovd.config, ovd.registry, ovd.store)
    fresh.banks(ClassSpec("brick", curation=Curation(excluded=((drop, "shows a wall"),))))
    assert calls == [], "the same review is never built twice"


def test_added_seed_and_folder_join_the_set(ovd, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(folder / "a.png")
    spec = class_specs([{"name": "brick", "curation": {"extra_seeds": [5], "extra_dirs": ["mine"]}}],
                       support_root=tmp_path)[0]
    base = ovd.support_set(ClassSpec("brick"))
    merged = ovd.support_set(spec)
    n = len(base.images)
    assert len(merged.images) == 2 * n + 1
    assert {image_id(im.image) for im in base.images} <= {image_id(im.image) for im in merged.images}
    with pytest.raises(BadInputError):
        every = Curation(excluded=tuple((image_id(im.image), "x") for im in base.images))
        ovd.banks(ClassSpec("brick", curation=every))


def test_a_foreground_holding_most_of_the_border_is_flagged_with_its_share() -> None:
    from engine.support.review import BORDER_FG, flag_text, flags_order, mask_measures

    cfg = ReviewConfig()
    ring = np.ones((40, 40), bool)
    ring[6:34, 6:34] = False  # the surround: 51% of the image, all of the border
    centre = ~ring  # the object: none of the border
    side = np.zeros((40, 40), bool)
    side[:, :24] = True  # the left 60%: 55% of the border, under the default 0.65
    assert mask_flags(ring, None, 0.5, cfg) == [BORDER_FG]
    assert mask_flags(centre, None, 0.5, cfg) == [] and mask_flags(side, None, 0.5, cfg) == []
    assert mask_flags(side, None, 0.5, dataclasses.replace(cfg, max_border_share=0.5)) == [BORDER_FG]
    assert mask_flags(np.ones((40, 40), bool), None, 0.5, cfg) == [WHOLE_FG]  # nearly all: one flag, not two
    measures = mask_measures(ring)
    assert measures == {"fg_fraction": 0.51, "border_share": 1.0}
    assert flag_text(BORDER_FG, measures) == "foreground touches 100% of the border: probably background"
    assert flag_text(WHOLE_FG, {"fg_fraction": 0.97, "border_share": 1.0}) == \
        "foreground covers 97% of the image: probably background"
    assert flag_text(BORDER_FG, {}) == "foreground holds most of the border: probably background"  # older rows
    ranked = sorted([[DUPLICATE], [], [EMPTY_FG, DUPLICATE], [BORDER_FG]], key=flags_order)
    assert ranked == [[BORDER_FG], [EMPTY_FG, DUPLICATE], [DUPLICATE], []]
