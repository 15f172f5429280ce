"""Stuff filter: stuff classes keep no bg prototypes; thing bg prototypes like stuff foreground are dropped."""
from __future__ import annotations

import numpy as np
import torch

from engine.config import SegmentConfig
from engine.segment.segmenter import Segmenter
from engine.segment.stuff import background_keep_masks
from engine.types import ClassSpec, PrototypeBank, ProtoSource


def _bank(name: str, fg: torch.Tensor, bg: torch.Tensor) -> PrototypeBank:
    return PrototypeBank(name, "e", fg, bg, [ProtoSource("class", "fg", None)] * len(fg),
                         [ProtoSource("instance", "bg", i) for i in range(len(bg))])


def _unit(angle_deg: float) -> list[float]:
    a = np.deg2rad(angle_deg)
    return [float(np.cos(a)), float(np.sin(a)), 0.0]


def test_threshold_and_stuff_background_rules():
    water = _bank("water", torch.tensor([_unit(0)]), torch.tensor([_unit(90)]))
    # cos(10 deg) = 0.985 > 0.85 dropped; cos(40 deg) = 0.766 kept; cos(32.5 deg) = 0.843 kept
    boat = _bank("boat", torch.tensor([_unit(180)]), torch.tensor([_unit(10), _unit(40), _unit(32.5)]) * 3.0)
    keep = background_keep_masks({"water": water, "boat": boat}, {"water": True, "boat": False}, SegmentConfig())
    assert keep["water"].tolist() == [False]
    assert keep["boat"].tolist() == [False, True, True]
    off = background_keep_masks({"water": water, "boat": boat}, {"water": True, "boat": False},
                                SegmentConfig(stuff_filter=False))
    assert off["water"].tolist() == [True] and off["boat"].tolist() == [True, True, True]
    lower = background_keep_masks({"water": water, "boat": boat}, {"water": True, "boat": False},
                                  SegmentConfig(stuff_filter_threshold=0.7))
    assert lower["boat"].tolist() == [False, False, False]


def test_min_prototypes_leaves_a_single_background_prototype_unfiltered():
    """``stuff_filter_min_prototypes``: 1 (paper) tests every bg prototype; 2 (sdov, the authors' early return)
    keeps a class's only bg prototype; a stuff class still keeps none."""
    water = _bank("water", torch.tensor([_unit(0)]), torch.tensor([_unit(90)]))
    boat = _bank("boat", torch.tensor([_unit(180)]), torch.tensor([_unit(10)]))
    ship = _bank("ship", torch.tensor([_unit(180)]), torch.tensor([_unit(10), _unit(40)]))
    banks, stuff = {"water": water, "boat": boat, "ship": ship}, {"water": True}
    paper = background_keep_masks(banks, stuff, SegmentConfig())
    assert paper["boat"].tolist() == [False] and paper["ship"].tolist() == [False, True]
    code = background_keep_masks(banks, stuff, SegmentConfig(stuff_filter_min_prototypes=2))
    assert code["boat"].tolist() == [True] and code["ship"].tolist() == [False, True]
    assert code["water"].tolist() == [False]


def test_without_stuff_classes_nothing_is_dropped():
    boat = _bank("boat", torch.tensor([_unit(0)]), torch.tensor([_unit(0), _unit(5)]))
    car = _bank("car", torch.tensor([_unit(5)]), torch.tensor([_unit(90)]))
    keep = background_keep_masks({"boat": boat, "car": car}, {}, SegmentConfig())
    assert keep["boat"].all() and keep["car"].all()


def test_vocabulary_scope_tests_background_against_every_class():
    """A person crop's background shows a flag: with scope "vocabulary" that prototype is dropped, not in "stuff"."""
    flag = _bank("flag", torch.tensor([_unit(0)]), torch.tensor([_unit(135)]))
    person = _bank("person", torch.tensor([_unit(90)]), torch.tensor([_unit(10), _unit(200)]))
    banks, stuff = {"flag": flag, "person": person}, {"flag": False, "person": False}
    paper = background_keep_masks(banks, stuff, SegmentConfig())
    assert paper["person"].all() and paper["flag"].all()
    vocab = background_keep_masks(banks, stuff, SegmentConfig(stuff_filter_scope="vocabulary"))
    assert vocab["person"].tolist() == [False, True]  # cos(10 deg) to the flag's fg
    assert vocab["flag"].tolist() == [True]  # cos(45 deg) = 0.71 to the person's fg: kept at 0.85
    assert background_keep_masks(banks, stuff, SegmentConfig(stuff_filter_scope="vocabulary",
                                                              stuff_filter_threshold=0.7))["flag"].tolist() == [False]


class Identity(torch.nn.Module):
    name, dim = "e", 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x * 2 - 1, 4)


def test_water_is_not_claimed_by_the_boats_background():
    blue, red = [-1.0, -1.0, 1.0], [1.0, -1.0, -1.0]
    img = np.zeros((64, 96, 3), np.uint8)
    img[:, :48] = (0, 0, 255)
    img[:, 48:] = (255, 0, 0)
    banks = {"boat": {"e": _bank("boat", torch.tensor([red]), torch.tensor([blue]))},
             "water": {"e": _bank("water", torch.tensor([blue]), torch.tensor([red]))}}
    vocab = [ClassSpec("boat"), ClassSpec("water", is_stuff=True)]
    cfg = SegmentConfig(short_side=64, window_sizes=(48,), window_stride=24)
    on = Segmenter(cfg, {"e": Identity()}, banks, vocab)(img)
    assert (on.labels[:, :40] == 2).all() and (on.labels[:, 56:] == 1).all()
    off = Segmenter(SegmentConfig(**{**cfg.__dict__, "stuff_filter": False}), {"e": Identity()}, banks, vocab)(img)
    assert (off.labels == 0).all()  # water's and boat's bg prototypes tie with every foreground: background wins
