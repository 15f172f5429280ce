"""Explanations point back to the planted prototype's support image region."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import SegmentConfig
from engine.errors import BadInputError
from engine.segment.explain import draw_explanation, explain_pixel, support_image_for
from engine.segment.segmenter import Segmenter
from engine.types import ClassSpec, PrototypeBank, ProtoSource, SupportImage, SupportSet

CFG = SegmentConfig(short_side=64, window_sizes=(48, 32), window_stride=24)


class Colour(torch.nn.Module):
    def __init__(self, name: str):
        super().__init__()
        self.name, self.dim = name, 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(2 * x - 1, 4)


def f(rgb) -> list[float]:
    return [2 * v / 255 - 1 for v in rgb]


RED, ORANGE, BLUE, GREEN = (255, 0, 0), (255, 140, 0), (0, 0, 255), (0, 255, 0)


def _banks(ext: str) -> dict:
    cat = PrototypeBank(
        "cat", ext, torch.tensor([f(RED), f(ORANGE)]), torch.tensor([f(BLUE)]),
        [ProtoSource("instance", "fg", 3, box=(0.1, 0.1, 0.5, 0.5), size=9),
         ProtoSource("part", "fg", 7, cluster=2, box=(0.5, 0.5, 0.9, 0.9), size=4)],
        [ProtoSource("instance", "bg", 5, box=(0.0, 0.0, 0.2, 0.2), size=3)],
    )
    dog = PrototypeBank("dog", ext, torch.tensor([f(GREEN)]), torch.zeros(0, 3),
                        [ProtoSource("class", "fg", None, size=50)], [])
    return {"cat": cat, "dog": dog}


@pytest.fixture(scope="module")
def seg():
    img = np.zeros((96, 128, 3), np.uint8)
    img[:32] = BLUE
    img[32:, :64] = RED
    img[32:, 64:] = ORANGE
    banks = {"a": _banks("a"), "b": _banks("b")}
    by_class = {c: {e: banks[e][c] for e in banks} for c in ("cat", "dog")}
    segmenter = Segmenter(CFG, {"a": Colour("a"), "b": Colour("b")}, by_class, [ClassSpec("cat"), ClassSpec("dog")])
    return segmenter(img, explain=True)


def test_pixel_explanations_name_the_planted_prototype(seg):
    red = explain_pixel(seg, 20, 70)
    assert [e.extractor for e in red] == ["a", "b"]
    assert all(e.class_name == "cat" and e.prototype_class == "cat" for e in red)
    assert red[0].source.image_index == 3 and red[0].source.kind == "instance"
    assert red[0].score == pytest.approx(1.0, abs=1e-5)
    orange = explain_pixel(seg, 110, 80)[0]
    assert orange.class_name == "cat" and orange.source.image_index == 7 and orange.source.cluster == 2
    bg = explain_pixel(seg, 60, 5)[0]
    assert bg.class_name == "background" and bg.prototype_class == "cat"
    assert bg.source.mask == "bg" and bg.source.image_index == 5
    assert seg.prototype_index["a"][bg.prototype_index] == ("cat", bg.source)


def test_explain_errors(seg):
    with pytest.raises(BadInputError, match="outside"):
        explain_pixel(seg, 500, 0)
    plain = type(seg)(labels=seg.labels, label_names=seg.label_names)
    with pytest.raises(BadInputError, match="explain=True"):
        explain_pixel(plain, 0, 0)


def test_support_image_lookup_and_drawing(seg):
    exp = explain_pixel(seg, 20, 70)[0]
    support = np.full((50, 100, 3), 128, np.uint8)
    sets = {"cat": SupportSet("cat", "a cat", "generated",
                              [SupportImage(i, support if i == 3 else support * 0, None) for i in range(8)])}
    assert support_image_for(exp, sets) is support
    assert support_image_for(exp, {}) is None
    drawn = draw_explanation(support, exp.source)
    assert drawn.shape == support.shape and (support == 128).all()  # input untouched
    # box (0.1, 0.1, 0.5, 0.5) on a 100 x 50 image: corners at x 10..50, y 5..25, green for foreground
    assert tuple(drawn[5, 30]) == (0, 200, 0) and tuple(drawn[15, 10]) == (0, 200, 0)
    assert tuple(drawn[15, 30]) == (128, 128, 128) and tuple(drawn[40, 80]) == (128, 128, 128)
    whole = draw_explanation(support, ProtoSource("class", "bg", None), line_width=1)
    assert tuple(whole[0, 0]) == (220, 0, 0) and tuple(whole[25, 50]) == (128, 128, 128)
    with pytest.raises(BadInputError):
        draw_explanation(support[..., 0], exp.source)
