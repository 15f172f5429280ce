"""Golden test: the pixel tensor each model receives (Stable Diffusion's VAE, DINO, CLIP), for target windows and
for support images, under the ``sdov`` profile.

Reference written from karazijal/sdov (commit 218566b), shares no code with engine/ (numpy / torch / PIL only).
torchvision 0.13 (the code's pin, torch 1.12) resizes a TENSOR bilinearly without antialias (``antialias=None`` is
False for tensors), returns it unchanged when the size already matches, and with an int size and ``max_size``
sets the short side, truncates the long one, and rescales both when the long side passes ``max_size``.
- Targets, predict.py ``main`` (lines 559-592, 600-602): each window crop of the 448-scale image, in [0, 1], goes
  through the extractor's ``resize`` then its forward:
  - ``SDFeats.resize`` (lines 136-140): ``TF.resize(crop, (512, 512))``; sd.py ``encode`` (lines 813-819):
    ``2 * img - 1`` into the VAE;
  - ``ViTFeats.resize`` for DINO (lines 179-190): unchanged when both sides are <= 448, else
    ``TF.resize(crop, 448, max_size=800)``; ``ViTFeats.forward`` (lines 160-170): ImageNet mean / std, and the
    stride-8 patch conv sees only the first ``h // 8 * 8`` rows and ``w // 8 * 8`` columns;
  - ``ViTFeats.resize`` for CLIP (input_size (448, 448)): ``TF.resize(crop, (448, 448))``; ImageNet mean / std.
- Support images (512 x 512 PNGs): gen_proto_sd.py ``main`` (lines 226, 247-249): ``to_tensor`` then ``encode``;
  gen_vit_features.py ``main`` (lines 84, 132-141): ``PatchResize`` (LANCZOS to the nearest patch multiple: 512
  stays 512) then ImageNet mean / std, for DINO and CLIP alike.
The models are the ``tiny`` profile's (random seeded weights, the real diffusers / transformers classes); what is
under test is the tensor they receive, so the feature layers are moved to the first block (DINO, CLIP) and the
first cross-attention (SD), and the VAE encoder, once its input is recorded, encodes every 8th pixel of it: the
models stop early and the test stays fast, while every step before a model (the pipeline's resize, windows, crops,
the extractors' resize / crop / normalisation) is the sdov path.
Tolerance: 1e-5 absolute (values normalised to about [-2.1, 2.7]).
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from golden_inputs import photo
from test_golden_windows import ref_resize, ref_windows

from engine.config import OVDiffConfig
from engine.pipeline import build_ovdiff
from engine.profile_sdov import sdov_config
from engine.segment.segmenter import Segmenter
from engine.types import ClassSpec, ProtoSource, PrototypeBank, SupportImage, SupportSet

SDOV = sdov_config()
# the sdov features with early layers (see the module docstring): the pixel path is untouched
FAST = SDOV.replace(features=dataclasses.replace(SDOV.features, dino_layer=0, clip_layer=0,
                                                 sd_layers=("down_blocks.0.attentions.0",), sd_include_mid_block=False))
TOL = 1e-5
IMAGENET = (torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))


def tv_resize(x: torch.Tensor, size, max_size: int | None = None) -> torch.Tensor:
    """torchvision 0.13 ``F.resize`` on a tensor (bilinear, no antialias)."""
    h, w = x.shape[-2:]
    if isinstance(size, int):
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size, int(size * long / short)
        if max_size is not None and new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
        size = (new_long, new_short) if w <= h else (new_short, new_long)
    if tuple(size) == (h, w):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False, antialias=False)


def imagenet(x: torch.Tensor) -> torch.Tensor:
    return (x - IMAGENET[0]) / IMAGENET[1]


def ref_target_inputs(crop: torch.Tensor) -> dict[str, torch.Tensor]:
    """(1, 3, h, w) window crop in [0, 1] -> what each model receives."""
    h, w = crop.shape[-2:]
    dino = crop if (h <= 448 and w <= 448) else tv_resize(crop, 448, max_size=800)
    dh, dw = dino.shape[-2:]
    return {
        "sd": tv_resize(crop, (512, 512)) * 2 - 1,
        "dino": imagenet(dino[..., : dh // 8 * 8, : dw // 8 * 8]),
        "clip": imagenet(tv_resize(crop, (448, 448))),
    }


def _model_of(registry, ename: str):
    if ename == "sd":
        return registry.generator().vae.encoder
    if ename == "dino":
        return registry.dino()
    return registry.clip()[0].vision_model


def _capture(registry) -> tuple[dict[str, list[torch.Tensor]], list]:
    seen: dict[str, list[torch.Tensor]] = {"sd": [], "dino": [], "clip": []}
    handles = []
    for ename in ("sd", "dino", "clip"):
        def hook(_m, args, kwargs, ename=ename):
            x = kwargs["pixel_values"] if "pixel_values" in kwargs else args[0]
            seen[ename].extend(t.detach().float().clone()[None] for t in x)
            if ename == "sd":  # recorded; the VAE then encodes every 8th pixel (its cost, not its input, shrinks)
                return (x[..., ::8, ::8], *args[1:]), kwargs
            return None
        handles.append(_model_of(registry, ename).register_forward_pre_hook(hook, with_kwargs=True))
    return seen, handles


def _random_bank(name: str, ename: str, dim: int, rng: np.random.Generator) -> PrototypeBank:
    fg = torch.from_numpy(rng.standard_normal((2, dim)).astype(np.float32))
    bg = torch.from_numpy(rng.standard_normal((2, dim)).astype(np.float32))
    src = [ProtoSource("instance", "fg", i) for i in range(2)]
    return PrototypeBank(name, ename, fg, bg, src, [dataclasses.replace(s, mask="bg") for s in src])


@pytest.fixture(scope="module")
def target_inputs(tiny_registry):
    """Every pixel tensor the three models receive while the sdov segmenter labels two photos."""
    exts = {e: tiny_registry.extractor(e, FAST.features) for e in ("sd", "dino", "clip")}
    rng = np.random.default_rng(0)
    banks = {"thing": {e: _random_bank("thing", e, x.dim, rng) for e, x in exts.items()}}
    cfg = dataclasses.replace(SDOV.segment, category_prefilter=False)
    seg = Segmenter(cfg, exts, banks, [ClassSpec("thing")])
    out = {}
    for name in ("chelsea", "astronaut_strip"):
        seen, handles = _capture(tiny_registry)
        try:
            seg(photo(name))
        finally:
            for h in handles:
                h.remove()
        out[name] = seen
    return out


@functools.cache
def _expected(name: str) -> list[tuple[tuple[int, int, int, int], dict[str, torch.Tensor]]]:
    work = ref_resize(photo(name))
    img = torch.from_numpy(work.copy()).permute(2, 0, 1)[None].float() / 255
    h, w = work.shape[:2]
    return [(box, ref_target_inputs(img[..., box[0] : box[2], box[1] : box[3]])) for box in ref_windows(h, w)]


def _match(got: list[torch.Tensor], want: torch.Tensor) -> float:
    """Smallest max-abs difference between ``want`` and any same-shaped tensor the model received (and remove it)."""
    best, at = float("inf"), -1
    for i, t in enumerate(got):
        if t.shape == want.shape:
            d = float((t - want).abs().max())
            if d < best:
                best, at = d, i
    if at >= 0:
        got.pop(at)
    return best


@pytest.mark.parametrize("ename", ["sd", "dino", "clip"])
@pytest.mark.parametrize("name", ["chelsea", "astronaut_strip"])
def test_sliding_window_inputs_match_the_code(target_inputs, name, ename):
    got = list(target_inputs[name][ename])
    expected = _expected(name)
    assert len(got) == len(expected)  # one model input per window, whole image included
    for box, want in expected[:-1]:  # the sliding windows (448 and 336)
        assert _match(got, want[ename]) < TOL, (box, ename)


@pytest.mark.parametrize("name", ["chelsea", "astronaut_strip"])
def test_whole_image_dino_input_matches_the_code(target_inputs, name):
    """chelsea: 448 x 673 -> the patch grid crops to 448 x 672; astronaut_strip: 448 x 997 is capped at 800 wide
    (bilinear, no antialias) -> 359 x 800 -> 352 x 800 on the grid."""
    got = list(target_inputs[name]["dino"])
    _, want = _expected(name)[-1]
    assert _match(got, want["dino"]) < TOL


@pytest.mark.parametrize("ename", ["sd", "clip"])
@pytest.mark.parametrize("name", ["chelsea", "astronaut_strip"])
def test_whole_image_sd_and_clip_inputs_match_the_code(target_inputs, name, ename):
    got = list(target_inputs[name][ename])
    _, want = _expected(name)[-1]
    assert _match(got, want[ename]) < TOL


@pytest.mark.parametrize("ename", ["sd", "clip"])
def test_paper_squashes_with_an_antialiased_resize(tiny_registry, ename):
    """``features.resize_antialias``: the paper profile keeps the antialiased squash (sdov: the code's, above)."""
    paper = dataclasses.replace(FAST.features, resize_antialias=True)
    assert OVDiffConfig().features.resize_antialias and not SDOV.features.resize_antialias
    x = torch.from_numpy(ref_resize(photo("chelsea")).copy()).permute(2, 0, 1)[None].float() / 255
    side = 512 if ename == "sd" else 448
    want = {"sd": lambda t: t * 2 - 1, "clip": imagenet}[ename]
    for antialias in (True, False):
        seen, handles = _capture(tiny_registry)
        try:
            tiny_registry.extractor(ename, dataclasses.replace(paper, resize_antialias=antialias))(x)
        finally:
            for h in handles:
                h.remove()
        ref = want(F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=antialias))
        assert (seen[ename][0] - ref).abs().max() < TOL


@pytest.fixture(scope="module")
def support_inputs(tiny_registry, tmp_path_factory):
    """The tensors each model receives while the sdov pipeline builds prototype banks from one 512 x 512 image."""
    ov = build_ovdiff("tiny", tmp_path_factory.mktemp("store"), FAST)
    ov.registry = tiny_registry  # the session's models (same profile, same seeded weights)
    img = photo("astronaut")  # 512 x 512, the support image size
    fg = np.zeros((512, 512), bool)
    fg[100:400, 150:350] = True
    support = SupportSet("thing", "A good picture of a thing", "generated",
                         [SupportImage(index=0, image=img, attribution=None, fg_mask=fg, bg_mask=~fg)], key="golden")
    seen, handles = _capture(tiny_registry)
    try:
        for ename in ("sd", "dino", "clip"):
            ov._build_bank(ClassSpec("thing"), ename, f"golden-{ename}", support, None)
    finally:
        for h in handles:
            h.remove()
    return img, seen


@pytest.mark.parametrize("ename", ["sd", "dino", "clip"])
def test_support_image_inputs_match_the_code(support_inputs, ename):
    img, seen = support_inputs
    t = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255  # TF.to_tensor of the PNG
    want = t * 2 - 1 if ename == "sd" else imagenet(t)  # PatchResize keeps 512 (a multiple of 8 and of 16)
    assert len(seen[ename]) == 1
    assert seen[ename][0].shape == want.shape and (seen[ename][0] - want).abs().max() < TOL


def test_sdov_feature_settings_are_the_codes():
    f = SDOV.features
    assert (f.sd_input_size, f.clip_input_size, f.dino_max_side, f.dino_fit) == (512, 448, 800, "crop")
    assert f.clip_normalisation == "imagenet" and f.clip_support_native
