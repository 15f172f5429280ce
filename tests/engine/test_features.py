"""Feature extractors on tiny models: shapes, the captured facet, determinism, CLIP text-image similarity."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.config import SD_CODE_EXTRA_LAYERS, SD_PAPER_LAYERS
from engine.errors import BadInputError
from engine.features import ClipKeyExtractor, DinoKeyExtractor, SDQueryExtractor, clip_text_image_similarity
from engine.features.common import IMAGENET_MEAN, IMAGENET_STD, normalise
from engine.profiles import default_config

CFG = default_config("tiny").features


@pytest.fixture(scope="module")
def images():
    return torch.rand(2, 3, 64, 80, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "name,cls,grid",
    [("dino", DinoKeyExtractor, (8, 10)), ("clip", ClipKeyExtractor, (4, 4)), ("sd", SDQueryExtractor, (8, 8))],
)
def test_extractor_shapes_and_determinism(tiny_registry, images, name, cls, grid):
    ext = tiny_registry.extractor(name, CFG)
    assert isinstance(ext, cls) and ext.name == name
    feats = ext(images)
    assert feats.shape == (2, ext.dim, *grid) and feats.dtype == torch.float32
    assert torch.isfinite(feats).all()
    assert torch.allclose(ext(images[1:]), feats[1:], atol=1e-4)  # batch composition does not matter
    assert not torch.allclose(feats[0], feats[1])  # features depend on the image


def test_dino_returns_last_block_keys(tiny_registry, images):
    model = tiny_registry.dino()
    ext = tiny_registry.extractor("dino", CFG)
    x = normalise(images, IMAGENET_MEAN, IMAGENET_STD)
    out = model(pixel_values=x, output_hidden_states=True, interpolate_pos_encoding=True)
    block = model.layers[-1] if hasattr(model, "layers") else model.encoder.layer[-1]
    keys = block.attention.k_proj(block.layernorm_before(out.hidden_states[-2]))
    expected = keys[:, 1:, :].transpose(1, 2).reshape(2, -1, 8, 10)
    assert torch.allclose(ext(images), expected, atol=1e-5)
    token = tiny_registry.extractor("dino", dataclasses.replace(CFG, dino_facet="token"))(images)
    assert token.shape == expected.shape and not torch.allclose(token, expected)


def test_dino_resizes_to_patch_multiples(tiny_registry):
    ext = tiny_registry.extractor("dino", CFG)
    assert ext(torch.rand(1, 3, 61, 30)).shape == (1, ext.dim, 7, 3)


def test_clip_uses_second_to_last_block_keys(tiny_registry, images):
    vision = tiny_registry.clip()[0].vision_model
    ext = tiny_registry.extractor("clip", CFG)
    x = normalise(F.interpolate(images, size=(64, 64), mode="bilinear", antialias=True), IMAGENET_MEAN, IMAGENET_STD)
    out = vision(pixel_values=x, output_hidden_states=True, interpolate_pos_encoding=True)
    layer = vision.encoder.layers[-2]
    keys = layer.self_attn.k_proj(layer.layer_norm1(out.hidden_states[-3]))
    assert torch.allclose(ext(images), keys[:, 1:, :].transpose(1, 2).reshape(2, -1, 4, 4), atol=1e-5)
    clip_norm = tiny_registry.extractor("clip", dataclasses.replace(CFG, clip_normalisation="clip"))
    assert not torch.allclose(clip_norm(images), ext(images))


def test_sd_dimensions_follow_layers(tiny_registry, images):
    unet = tiny_registry.generator().unet

    def width(layer: str) -> int:
        return unet.get_submodule(layer).transformer_blocks[0].attn2.to_q.out_features

    paper = tiny_registry.extractor("sd", CFG)
    assert paper.dim == sum(width(n) for n in SD_PAPER_LAYERS)
    with_mid = tiny_registry.extractor("sd", dataclasses.replace(CFG, sd_include_mid_block=True))
    assert with_mid.dim == paper.dim + width(SD_CODE_EXTRA_LAYERS[0])
    a, b = paper(images), with_mid(images)
    assert torch.allclose(b[:, : paper.dim], a, atol=1e-5)  # same layers first, mid block appended
    big = tiny_registry.extractor("sd", dataclasses.replace(CFG, sd_feature_size=16))(images)
    assert big.shape[-2:] == (16, 16)
    later = tiny_registry.extractor("sd", dataclasses.replace(CFG, sd_timestep=900))(images)
    assert not torch.allclose(later, a)


def test_bad_inputs_name_the_problem(tiny_registry):
    with pytest.raises(BadInputError, match="up_blocks.9"):
        tiny_registry.extractor("sd", dataclasses.replace(CFG, sd_layers=("up_blocks.9.attentions.0",)))
    with pytest.raises(BadInputError, match="images"):
        tiny_registry.extractor("dino", CFG)(torch.rand(3, 64, 64))
    with pytest.raises(BadInputError, match="layer"):
        tiny_registry.extractor("dino", dataclasses.replace(CFG, dino_layer=5))


def test_clip_text_image_similarity(tiny_registry):
    image = (np.random.default_rng(0).random((40, 70, 3)) * 255).astype(np.uint8)
    prompts = ["a cat", "a dog", "a cat and a dog"]
    sims = clip_text_image_similarity(tiny_registry, image, prompts)
    assert sims.shape == (3,) and sims.dtype == torch.float32
    assert (sims.abs() <= 1.0 + 1e-5).all() and len(set(sims.tolist())) == 3
    single = clip_text_image_similarity(tiny_registry, image, ["a dog"])
    assert single[0] == pytest.approx(sims[1].item(), abs=1e-5)  # padding does not change a prompt's score
    assert torch.allclose(clip_text_image_similarity(tiny_registry, image.astype(np.float32) / 255, prompts), sims)
    with pytest.raises(BadInputError, match="image"):
        clip_text_image_similarity(tiny_registry, image[..., 0], prompts)
