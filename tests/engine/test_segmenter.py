"""Segmenter on planted features: a fixed 1x1 conv maps colours to feature vectors, so the answer is known."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import SegmentConfig
from engine.errors import BadInputError
from engine.segment.prefilter import CategoryPrefilter
from engine.segment.segmenter import Segmenter, as_rgb, label_from_scores
from engine.types import ClassSpec, PrototypeBank, ProtoSource

RED, GREEN, BLUE, YELLOW, ORANGE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 128, 0)
CFG = SegmentConfig(short_side=64, window_sizes=(48, 32), window_stride=24, window_batch_size=3)


class ColourExtractor(torch.nn.Module):
    """Feature = 2 * rgb - 1 (fixed 1x1 conv), average-pooled with stride 4: colour regions have known features."""

    def __init__(self, name: str = "rgb", stride: int = 4, sign: float = 1.0, input_size: int | None = None):
        super().__init__()
        self.name, self.dim, self.seen = name, 3, []
        self.conv = torch.nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.conv.weight.copy_(2 * sign * torch.eye(3)[:, :, None, None])
            self.conv.bias.fill_(-sign)
        self.pool = torch.nn.AvgPool2d(stride)
        if input_size is not None:
            self.input_size = input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(x.shape))
        return self.pool(self.conv(x))


def feat(rgb: tuple[int, int, int]) -> list[float]:
    return [2 * v / 255 - 1 for v in rgb]


def bank(name: str, fg: list, bg: list, extractor: str = "rgb", image_base: int = 0) -> PrototypeBank:
    fg_t = torch.tensor([feat(c) for c in fg], dtype=torch.float32).reshape(-1, 3)
    bg_t = torch.tensor([feat(c) for c in bg], dtype=torch.float32).reshape(-1, 3)
    return PrototypeBank(
        name, extractor, fg_t, bg_t,
        [ProtoSource("instance", "fg", image_base + i, box=(0.1, 0.2, 0.6, 0.7), size=4) for i in range(len(fg))],
        [ProtoSource("instance", "bg", image_base + i, box=(0.0, 0.0, 0.3, 0.3), size=4) for i in range(len(bg))],
    )


def paint(h: int, w: int, regions: list[tuple[slice, slice, tuple[int, int, int]]]) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    for ys, xs, c in regions:
        img[ys, xs] = c
    return img


@pytest.fixture()
def scene() -> np.ndarray:
    # top third blue (cat's background), bottom-left red (cat), bottom-right green (dog)
    return paint(120, 180, [(slice(0, 40), slice(None), BLUE), (slice(40, None), slice(0, 90), RED),
                            (slice(40, None), slice(90, None), GREEN)])


def make(cfg=CFG, banks=None, classes=None, extractors=None, prefilter=None) -> Segmenter:
    banks = banks or {"cat": {"rgb": bank("cat", [RED], [BLUE])}, "dog": {"rgb": bank("dog", [GREEN], [])}}
    classes = classes or [ClassSpec("cat"), ClassSpec("dog")]
    return Segmenter(cfg, extractors or {"rgb": ColourExtractor()}, banks, classes, prefilter)


def test_planted_scene_is_labelled_with_background_from_bg_prototypes(scene):
    seg = make()(scene, return_scores=True)
    assert seg.label_names == ["background", "cat", "dog"]
    assert seg.labels.shape == (120, 180) and seg.labels.dtype == np.int32
    assert (seg.labels[:30] == 0).all()
    assert (seg.labels[50:, :80] == 1).all()
    assert (seg.labels[50:, 100:] == 2).all()
    assert seg.scores.shape == (3, 120, 180)
    assert seg.scores[1, 60:, 10:60] == pytest.approx(1.0, abs=1e-4)  # max cosine of red to the red prototype
    assert seg.scores[2, 60:, 10:60] == pytest.approx(-1 / 3, abs=1e-4)


def test_labels_come_back_at_original_size_for_any_aspect(scene):
    img = np.ascontiguousarray(np.repeat(scene, 3, axis=1)[:97])  # 97 x 540, not a multiple of anything
    seg = make()(img)
    assert seg.labels.shape == (97, 540)
    assert (seg.labels[60:, 10:250] == 1).all()


def test_threshold_ablation_replaces_background_prototypes():
    # orange: cos 0.816 to red (> 0.75); yellow: cos 1/3 to red (< 0.75 but > 0)
    img = paint(64, 96, [(slice(None), slice(0, 48), ORANGE), (slice(None), slice(48, None), YELLOW)])
    banks = {"cat": {"rgb": bank("cat", [RED], [])}}
    with_bg = make(CFG, banks, [ClassSpec("cat")])(img)
    assert (with_bg.labels[:, 56:] == 1).all()  # no bg prototypes: bg scores -1 -> 0, cat 1/3 wins
    ablation = SegmentConfig(**{**CFG.__dict__, "use_background_prototypes": False})
    seg = make(ablation, banks, [ClassSpec("cat")])(img, return_scores=True)
    assert (seg.labels[:, :40] == 1).all()
    assert (seg.labels[:, 56:] == 0).all()
    assert seg.scores[0] == pytest.approx(0.75)


def test_nonpositive_scores_are_zeroed_and_ties_go_to_background():
    img = paint(64, 64, [(slice(None), slice(None), BLUE)])
    # cat: cos(blue, red) = -1/3 ; background: cos(blue, (0, 1, -1)) = -0.816 ; cat is "higher" but negative
    b = bank("cat", [RED], [])
    b.bg = torch.tensor([[0.0, 1.0, -1.0]])
    b.bg_sources = [ProtoSource("class", "bg", None)]
    banks = {"cat": {"rgb": b}}
    assert (make(CFG, banks, [ClassSpec("cat")])(img).labels == 0).all()
    raw = SegmentConfig(**{**CFG.__dict__, "zero_nonpositive_scores": False})
    assert (make(raw, banks, [ClassSpec("cat")])(img).labels == 1).all()


def test_exact_ties_go_to_background_then_to_the_lower_class():
    img = paint(64, 64, [(slice(None), slice(None), RED)])
    banks = {"cat": {"rgb": bank("cat", [RED], [RED])}, "dog": {"rgb": bank("dog", [RED], [])}}
    assert (make(CFG, banks)(img).labels == 0).all()
    banks = {"cat": {"rgb": bank("cat", [RED], [])}, "dog": {"rgb": bank("dog", [RED], [])}}
    assert (make(CFG, banks)(img).labels == 1).all()


def test_label_from_scores_rules():
    s = torch.tensor([[[0.2]], [[0.5]], [[0.5]]])
    assert label_from_scores(s, True).item() == 1
    s = torch.tensor([[[-0.5]], [[-0.1]], [[-0.3]]])
    assert label_from_scores(s, True).item() == 0
    assert label_from_scores(s, False).item() == 1


def _scorer_for(present: set[str]):
    def scorer(image: np.ndarray, prompts: list[str]) -> torch.Tensor:
        return torch.tensor([0.2 + sum(0.05 if w in present else -0.05 for w in p.replace(" and ", " ").split()
                                       if w != "a") for p in prompts])
    return scorer


def test_deselected_classes_score_minus_one_and_cannot_win(scene):
    pre = CategoryPrefilter(_scorer_for({"cat"}), CFG)
    seg = make(prefilter=pre)(scene, return_scores=True)
    assert seg.selected == ["cat"]
    assert (seg.scores[2] == -1).all()
    assert (seg.labels != 2).all()
    assert (seg.labels[50:, 100:] == 0).all()  # green: cat -1/3 -> 0, background wins the tie
    off = SegmentConfig(**{**CFG.__dict__, "category_prefilter": False})
    assert make(off, prefilter=pre)(scene).selected == ["cat", "dog"]


def test_background_uses_only_selected_classes_bg_prototypes(scene):
    # dog's bg prototype is red: if dog were selected, red would become background
    banks = {"cat": {"rgb": bank("cat", [RED], [BLUE])}, "dog": {"rgb": bank("dog", [GREEN], [RED])}}
    assert (make(CFG, banks)(scene).labels[50:, :80] == 0).all()
    pre = CategoryPrefilter(_scorer_for({"cat"}), CFG)
    assert (make(CFG, banks, prefilter=pre)(scene).labels[50:, :80] == 1).all()


def test_extractors_are_averaged_equally(scene):
    a, b = ColourExtractor("a"), ColourExtractor("b", stride=8, sign=-1.0)
    banks = {n: {"a": bank(n, fg, bg, "a"), "b": bank(n, fg, bg, "b")}
             for n, fg, bg in [("cat", [RED], [BLUE]), ("dog", [GREEN], [])]}
    sa = make(CFG, banks, extractors={"a": a})(scene, return_scores=True).scores
    sb = make(CFG, banks, extractors={"b": b})(scene, return_scores=True).scores
    sab = make(CFG, banks, extractors={"a": a, "b": b})(scene, return_scores=True).scores
    np.testing.assert_allclose(sab, (sa + sb) / 2, atol=1e-5)


def test_windows_are_batched_and_squashed_to_the_extractor_input_size(scene):
    ext = ColourExtractor(input_size=40)
    make(extractors={"rgb": ext})(scene)
    assert all(s[1:] == (3, 40, 40) for s in ext.seen)
    assert max(s[0] for s in ext.seen) <= CFG.window_batch_size
    plain = ColourExtractor()
    make(extractors={"rgb": plain})(scene)
    assert {s[2:] for s in plain.seen} == {(48, 48), (32, 32), (64, 96)}  # resized image is 64 x 96


def test_image_validation_and_conversion(scene):
    seg = make()
    gray = scene.mean(axis=2).astype(np.uint8)
    assert seg(gray).labels.shape == gray.shape
    rgba = np.concatenate([scene, np.full(scene.shape[:2] + (1,), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(seg(rgba).labels, seg(scene).labels)
    with pytest.raises(BadInputError, match="uint8"):
        seg(scene.astype(np.float32))
    with pytest.raises(BadInputError, match="shape"):
        seg(np.zeros((4, 4, 2), np.uint8))
    small = make(SegmentConfig(**{**CFG.__dict__, "max_image_pixels": 1000}))
    with pytest.raises(BadInputError, match="max_image_pixels") as err:
        small(scene)
    assert err.value.item == "image"
    with pytest.raises(BadInputError):
        as_rgb([[1, 2]], 10)


def test_missing_bank_and_bad_vocabulary_are_reported():
    with pytest.raises(BadInputError) as err:
        make(banks={"cat": {"rgb": bank("cat", [RED], [])}})
    assert err.value.item == "dog"
    with pytest.raises(BadInputError):
        make(classes=[ClassSpec("cat"), ClassSpec("cat")])
    with pytest.raises(BadInputError):
        Segmenter(CFG, {"rgb": ColourExtractor()}, {}, [])


def test_pamr_switch_runs_and_keeps_a_clean_scene(scene):
    cfg = SegmentConfig(**{**CFG.__dict__, "pamr": True})
    seg = make(cfg)(scene)
    assert (seg.labels[50:, :80] == 1).all() and (seg.labels[:30] == 0).all()
