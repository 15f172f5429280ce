"""CLIP category pre-filter with a deterministic stand-in for CLIP's image-text cosine similarities."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import SegmentConfig
from engine.segment.prefilter import CategoryPrefilter, nonempty_subsets, subset_prompt
from engine.types import ClassSpec

IMAGE = np.zeros((8, 8, 3), np.uint8)


class BagOfWordsScorer:
    """cosine-like score of a prompt: base + bonus per mentioned present class - penalty per absent one."""

    def __init__(self, present: dict[str, float], absent_penalty: float = 0.04):
        self.present, self.penalty, self.calls = present, absent_penalty, []

    def __call__(self, image: np.ndarray, prompts: list[str]) -> torch.Tensor:
        self.calls.append(list(prompts))
        out = []
        for p in prompts:
            names = [part.removeprefix("a ") for part in p.split(" and ")]
            out.append(0.2 + sum(self.present.get(n, -self.penalty) for n in names))
        return torch.tensor(out)


def classes(*names: str, stuff: tuple[str, ...] = ()) -> list[ClassSpec]:
    return [ClassSpec(n, is_stuff=n in stuff) for n in names]


def test_subset_enumeration_and_prompt_match_the_authors_code():
    assert nonempty_subsets(3) == [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
    assert len(nonempty_subsets(10)) == 1023
    assert subset_prompt(["cat", "potted plant"], "a {}") == "a cat and a potted plant"


def test_best_subset_is_the_set_of_present_classes():
    scorer = BagOfWordsScorer({"cat": 0.05, "dog": 0.04})
    pre = CategoryPrefilter(scorer, SegmentConfig())
    vocab = classes("bird", "cat", "dog", "cow", "sheep")
    assert pre(IMAGE, vocab) == ["cat", "dog"]
    first, second = scorer.calls
    assert first == ["a bird", "a cat", "a dog", "a cow", "a sheep"]
    assert second == ["a cat", "a dog", "a cat and a dog"]  # only the two candidates above 1/|C|


def test_softmax_is_over_raw_cosines_without_logit_scale():
    # raw [0.35, 0.28, 0.20, 0.20]: unscaled, the softmax is nearly linear and 0.28 (above the mean) passes 1/|C|;
    # with CLIP's logit scale (100) 0.35 would take almost all the mass and 0.28 would fail.
    raw = {"a w": 0.35, "a x": 0.28, "a y": 0.20, "a z": 0.20}
    pre = CategoryPrefilter(lambda image, prompts: torch.tensor([raw[p] for p in prompts]), SegmentConfig())
    assert pre.candidates(IMAGE, classes("w", "x", "y", "z")) == [0, 1]
    scaled = torch.softmax(torch.tensor(list(raw.values())) * 100, 0)
    assert scaled[1] < 1 / 4  # the test would fail if a logit scale were applied


def test_at_most_max_classes_by_probability_then_subset_search():
    present = {f"c{i}": 0.05 + 0.001 * i for i in range(12)}  # c11 most likely, c0 least
    scorer = BagOfWordsScorer(present)
    pre = CategoryPrefilter(scorer, SegmentConfig(prefilter_max_classes=10))
    vocab = classes(*[f"c{i}" for i in range(12)], "zz1", "zz2")
    cand = pre.candidates(IMAGE, vocab)
    assert cand == list(range(11, 1, -1))  # top-10 by probability, highest first
    scorer.calls.clear()
    assert pre(IMAGE, vocab) == [f"c{i}" for i in range(2, 12)]
    assert len(scorer.calls[1]) == 1023


def test_stuff_classes_skip_the_classifier_and_are_always_kept():
    scorer = BagOfWordsScorer({"boat": 0.05})
    pre = CategoryPrefilter(scorer, SegmentConfig())
    vocab = classes("sky", "boat", "car", "water", stuff=("sky", "water"))
    assert pre(IMAGE, vocab) == ["sky", "boat", "water"]
    assert all("sky" not in p and "water" not in p for call in scorer.calls for p in call)
    only_stuff = CategoryPrefilter(BagOfWordsScorer({}), SegmentConfig())
    assert only_stuff(IMAGE, classes("sky", stuff=("sky",))) == ["sky"]
    assert only_stuff.scorer.calls == []


def test_subset_search_switch_and_prompt_template():
    # with the joint prompt, "cat and dog" loses to "cat" (dog's bonus is negative once combined) ...
    scorer = BagOfWordsScorer({"cat": 0.05, "dog": -0.001})
    vocab = classes("cat", "dog", "cow", "sheep")
    cfg = SegmentConfig(prefilter_prompt="a {}")
    cand = CategoryPrefilter(scorer, cfg).candidates(IMAGE, vocab)
    assert cand == [0, 1]
    assert CategoryPrefilter(scorer, cfg)(IMAGE, vocab) == ["cat"]
    # ... and without subset search the first-stage candidates are the answer
    assert CategoryPrefilter(scorer, SegmentConfig(prefilter_subset_search=False))(IMAGE, vocab) == ["cat", "dog"]
    seen = BagOfWordsScorer({"cat": 0.05})
    CategoryPrefilter(seen, SegmentConfig(prefilter_prompt="a photo of a {}"))(IMAGE, classes("cat", "dog"))
    assert seen.calls[0] == ["a photo of a cat", "a photo of a dog"]


def test_class_prompt_text_is_used_and_scorer_length_is_checked():
    seen = BagOfWordsScorer({"potted plant": 0.05})
    pre = CategoryPrefilter(seen, SegmentConfig())
    assert pre(IMAGE, [ClassSpec("pottedplant", prompt="potted plant"), ClassSpec("cat")]) == ["pottedplant"]
    assert seen.calls[0] == ["a potted plant", "a cat"]
    bad = CategoryPrefilter(lambda image, prompts: torch.zeros(1), SegmentConfig())
    with pytest.raises(ValueError, match="scores for 2 prompts"):
        bad(IMAGE, classes("a", "b"))
