"""Golden test: the CLIP category pre-filter (its image, its two stages, stuff classes), under the ``sdov`` profile.

Reference written from karazijal/sdov (commit 218566b), shares no code with engine/ (numpy / torch / PIL only):
- predict.py ``EvalDataset.__getitem__`` (lines 37-41) and mmdata.py ``prep_sample`` (lines 79-81): the image at
  448 short side (torchvision int rule, LANCZOS), then ``resize(img, (512, 512), LANCZOS)`` (PIL) and
  ``to_tensor``; utils/clip_class.py ``CLIP.__init__`` (lines 26-31): ``T.Resize((224, 224))`` on that tensor
  (torchvision 0.13: bilinear, no antialias) and CLIP's mean / std;
- utils/clip_class.py ``CLIPClassifier.cls_text_emb`` and ``CLIPClassifierThresh.forward`` (lines 84-88,
  150-187): unit text embeddings of "a " + name, RAW cosines (no logit scale), softmax, keep p >= 1/|C|; none ->
  top-k by score; more than k (10) -> top-k of the masked probabilities; every non-empty subset (``powerset``,
  lines 12-15) scored with "a X and a Y ..."; the first best subset wins;
- predict.py ``main`` (lines 290-297, 495-512): stuff classes are left out of the classifier and always added.
The CLIP model is the ``tiny`` profile's (random seeded weights, the real transformers class); only its inputs and
the rule are under test. Tolerances: pixels 1e-5; the selected classes exactly.
"""
from __future__ import annotations

import hashlib
from itertools import chain, combinations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from golden_inputs import photo
from PIL import Image
from test_golden_windows import ref_resize

from engine.features.text_cache import CachedClipScorer
from engine.profile_sdov import sdov_config
from engine.segment.prefilter import CategoryPrefilter, code_prefilter_image
from engine.storage.store import ArtifactStore
from engine.types import ClassSpec

SDOV = sdov_config().segment
CLIP_MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
CLIP_STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


def powerset(items):
    return chain.from_iterable(combinations(items, r) for r in range(1, len(items) + 1))


def ref_prefilter(sims, classes: list[ClassSpec], topk: int = 10, first_stage: list | None = None) -> set[str]:
    """``sims(prompts) -> raw cosines``; returns the kept class names (stuff classes added); the first stage's
    candidates are appended to ``first_stage`` if given."""
    things = [c for c in classes if not c.is_stuff]
    scores = sims(["a " + c.text for c in things])
    probs = torch.softmax(scores, dim=-1)
    tp = probs >= 1 / len(things)
    inds = torch.where(tp)[0].tolist() or torch.topk(scores, topk).indices.tolist()
    if len(inds) > topk:
        inds = torch.topk(torch.where(tp, probs, torch.zeros_like(probs)), topk).indices.tolist()
    if first_stage is not None:
        first_stage.extend(things[i].name for i in inds)
    combs = list(powerset(inds))
    best = int(sims([" and ".join("a " + things[i].text for i in comb) for comb in combs]).argmax())
    return {things[i].name for i in combs[best]} | {c.name for c in classes if c.is_stuff}


@pytest.mark.parametrize("seed", range(10))
def test_prefilter_rule_matches_the_code_on_random_scores(seed):
    def sim(prompt: str) -> float:  # a fixed image's cosine to a prompt, seeded by the prompt text
        h = int(hashlib.sha256(f"{seed}:{prompt}".encode()).hexdigest()[:8], 16)
        return 0.15 + 0.2 * h / 0xFFFFFFFF

    rng = np.random.default_rng(seed)
    classes = [ClassSpec(f"class{i}", is_stuff=bool(rng.random() < 0.2)) for i in range(int(rng.integers(3, 40)))]
    cfg = SDOV.__class__(**{**SDOV.__dict__, "prefilter_image_prep": "original"})  # the image is unused here
    pre = CategoryPrefilter(lambda image, prompts: torch.tensor([sim(p) for p in prompts]), cfg)
    sims = lambda prompts: torch.tensor([sim(p) for p in prompts])
    assert set(pre(np.zeros((8, 8, 3), np.uint8), classes)) == ref_prefilter(sims, classes)


def ref_clip_pixels(image: np.ndarray, side: int) -> torch.Tensor:
    """The tensor the code's CLIP encoder receives for the pre-filter (``side`` = 224 for ViT-B/16)."""
    work = ref_resize(image, 448)
    square = np.asarray(Image.fromarray(work).resize((512, 512), Image.Resampling.LANCZOS))
    t = torch.from_numpy(square.copy()).permute(2, 0, 1)[None].float() / 255  # to_tensor
    t = F.interpolate(t, size=(side, side), mode="bilinear", align_corners=False, antialias=False)
    return (t - CLIP_MEAN) / CLIP_STD


def _capture_pixels(model):
    seen: list[torch.Tensor] = []

    def hook(_module, args, kwargs):
        seen.append((kwargs.get("pixel_values") if "pixel_values" in kwargs else args[0]).detach().clone())

    return seen, model.vision_model.register_forward_pre_hook(hook, with_kwargs=True)


def _sdov_prefilter(registry, tmp_path) -> CategoryPrefilter:
    """Wired as engine.pipeline.OVDiff.segmenter wires it (pipeline.py: antialias off for the "code" prep)."""
    scorer = CachedClipScorer(registry, ArtifactStore(tmp_path), antialias=SDOV.prefilter_image_prep != "code")
    return CategoryPrefilter(scorer, SDOV)


NAMES = ["cat", "dog", "person", "car", "bird", "boat", "chair", "cup", "tree", "sky", "grass", "road", "wall"]


@pytest.mark.parametrize("name", ["chelsea", "astronaut", "coffee"])
def test_prefilter_on_photos_matches_the_code(name, tiny_registry, tmp_path):
    model, tokenizer = tiny_registry.clip()
    side = int(model.config.vision_config.image_size)
    img = photo(name)
    classes = [ClassSpec(n, is_stuff=n in {"sky", "grass", "road", "wall"}) for n in NAMES]
    seen, handle = _capture_pixels(model)
    try:
        ours = _sdov_prefilter(tiny_registry, tmp_path)(img, classes)
    finally:
        handle.remove()
    ref_px = ref_clip_pixels(img, side)
    assert len(seen) == 1 and seen[0].shape == ref_px.shape
    assert (seen[0].float() - ref_px).abs().max() < 1e-5

    with torch.no_grad():
        img_emb = F.normalize(_tensor(model.get_image_features(pixel_values=ref_px)).float(), dim=-1)[0]

    def sims(prompts: list[str]) -> torch.Tensor:
        with torch.no_grad():
            tok = tokenizer(prompts, padding=True, truncation=True, return_tensors="pt")
            txt = _tensor(model.get_text_features(input_ids=tok.input_ids, attention_mask=tok.attention_mask))
        return F.normalize(txt.float(), dim=-1) @ img_emb

    first: list[str] = []
    assert set(ours) == ref_prefilter(sims, classes, first_stage=first)
    pre = _sdov_prefilter(tiny_registry, tmp_path)
    things = [c for c in classes if not c.is_stuff]
    work = code_prefilter_image(img, SDOV.short_side, SDOV.short_side_rounding)
    assert [things[i].name for i in pre.candidates(work, things)] == first
    assert len(first) >= 2  # the subset search had a choice to make


def _tensor(out):
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def test_sdov_prefilter_settings_are_the_codes():
    """predict.py:196-197 (--classmode clipthresh --topk 10), clip_class.py (prompt "a " + name)."""
    assert SDOV.category_prefilter and SDOV.prefilter_subset_search and SDOV.prefilter_image_prep == "code"
    assert (SDOV.prefilter_max_classes, SDOV.prefilter_prompt.format("X")) == (10, "a X")
