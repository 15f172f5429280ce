"""Model registry: profiles, tiny builders, local-directory loading, fast failure, load-once."""
from __future__ import annotations

import dataclasses
import time

import pytest
import torch
from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline
from transformers import CLIPModel, Dinov2Model, ViTModel

from engine.config import SD_CODE_EXTRA_LAYERS, SD_PAPER_LAYERS, OVDiffConfig
from engine.errors import BadInputError, MissingModelError
from engine.models import ModelRegistry, save_tiny_models
from engine.models.tokenizer import build_byte_tokenizer
from engine.profiles import PROFILES, default_config


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return save_tiny_models(tmp_path_factory.mktemp("tiny-models"))


def test_profiles():
    assert set(PROFILES) == {"tiny", "paper", "paper-shape", "sdov", "dinov2-small"}
    assert default_config("paper") == OVDiffConfig() == default_config("paper-shape")
    tiny = default_config("tiny")
    assert tiny.support.image_size == 64 and tiny.support.n_images == 4
    assert tiny.features.sd_input_size == 64 and tiny.segment.window_sizes == (112, 84)
    assert tiny.support.seed == OVDiffConfig().support.seed  # only sizes shrink
    with pytest.raises(BadInputError, match="huge"):
        default_config("huge")


def test_models_load_once(tiny_registry):
    assert tiny_registry.generator() is tiny_registry.generator()
    assert tiny_registry.dino() is tiny_registry.dino()
    assert tiny_registry.clip()[0] is tiny_registry.clip()[0]
    cfg = default_config("tiny").features
    assert tiny_registry.extractor("dino", cfg) is tiny_registry.extractor("dino", cfg)
    assert tiny_registry.is_random_weights
    assert tiny_registry.identity("dino") == "tiny:random-seed0"
    with pytest.raises(BadInputError, match="resnet"):
        tiny_registry.extractor("resnet", cfg)


def test_tiny_builds_are_deterministic_and_keep_global_rng(tiny_registry):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    other = ModelRegistry("tiny")
    a, b = tiny_registry.dino().state_dict(), other.dino().state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(torch.rand(3), expected)  # building did not consume the caller's RNG


def test_tiny_unet_has_sd15_layer_names(tiny_registry):
    unet = tiny_registry.generator().unet
    for name in SD_PAPER_LAYERS + SD_CODE_EXTRA_LAYERS:
        assert unet.get_submodule(name).transformer_blocks[0].attn2 is not None
    assert isinstance(tiny_registry.generator().scheduler, DPMSolverMultistepScheduler)


def test_byte_tokenizer_takes_any_text():
    tok = build_byte_tokenizer()
    for text in ("potted plant", "Café au lait", "日本 ü-bahn #3"):
        ids = tok(text).input_ids
        assert tok.unk_token_id not in ids[1:-1]
        decoded = tok.decode(ids, skip_special_tokens=True)
        assert decoded.replace(" ", "") == text.lower().replace(" ", "")  # CLIP decodes punctuation spaced


def test_registry_loads_each_role_from_directories(saved, tiny_registry):
    reg = ModelRegistry(
        "tiny", sources={"generator": str(saved["generator"]), "dino": str(saved["dino"]), "clip": str(saved["clip"])}
    )
    pipe = reg.generator()
    assert isinstance(pipe, StableDiffusionPipeline)
    assert isinstance(pipe.scheduler, DPMSolverMultistepScheduler)
    built = tiny_registry.generator().unet.state_dict()
    assert all(torch.equal(v, built[k]) for k, v in pipe.unet.state_dict().items())
    assert isinstance(reg.dino(), ViTModel)
    model, tok = reg.clip()
    assert isinstance(model, CLIPModel) and tok("a cat").input_ids == build_byte_tokenizer()("a cat").input_ids
    assert reg.identity("dino").startswith(str(saved["dino"]))
    assert reg.identity("dino") != reg.identity("clip")


def test_registry_reads_dinov2_architecture_from_config(saved):
    reg = ModelRegistry("tiny", sources={"dino": str(saved["dinov2"])})
    assert isinstance(reg.dino(), Dinov2Model)
    feats = reg.extractor("dino", default_config("tiny").features)(torch.rand(1, 3, 48, 64))
    assert feats.shape == (1, 32, 6, 8)


def test_paper_profile_env_var_selects_directory(saved, monkeypatch):
    monkeypatch.setenv("OVDIFF_CLIP", str(saved["clip"]))
    reg = ModelRegistry("paper")
    assert not reg.is_random_weights
    assert isinstance(reg.clip()[0], CLIPModel)


@pytest.mark.parametrize(
    "role,env", [("generator", "OVDIFF_GENERATOR"), ("dino", "OVDIFF_DINO"), ("clip", "OVDIFF_CLIP")]
)
def test_missing_directory_fails_fast_naming_setting(role, env, tmp_path):
    missing = tmp_path / "nowhere"
    start = time.monotonic()
    reg = ModelRegistry("paper", sources={role: str(missing)})
    with pytest.raises(MissingModelError) as info:
        getattr(reg, role)()
    assert time.monotonic() - start < 2.0
    assert env in str(info.value) and str(missing) in str(info.value)


def test_uncached_hub_id_fails_fast_without_network(monkeypatch):
    for env in ("OVDIFF_GENERATOR", "OVDIFF_DINO", "OVDIFF_CLIP"):
        monkeypatch.delenv(env, raising=False)
    start = time.monotonic()
    reg = ModelRegistry("paper")
    with pytest.raises(MissingModelError, match="OVDIFF_DINO.*") as info:
        reg.identity("dino")
    assert "facebook/dino-vitb8" in str(info.value)
    with pytest.raises(MissingModelError, match="OVDIFF_GENERATOR"):
        ModelRegistry("paper", sources={"generator": "nobody-here/no-such-model"}).generator()
    assert time.monotonic() - start < 2.0


def test_directory_without_model_files_is_missing(tmp_path):
    with pytest.raises(MissingModelError, match="model_index.json"):
        ModelRegistry("tiny", sources={"generator": str(tmp_path)}).generator()


def test_bad_registry_arguments():
    with pytest.raises(BadInputError, match="huge"):
        ModelRegistry("huge")
    with pytest.raises(BadInputError, match="vae"):
        ModelRegistry("tiny", sources={"vae": "/x"})


@pytest.mark.slow
def test_paper_shape_backbones_have_paper_dimensions():
    reg = ModelRegistry("paper-shape")
    assert reg.is_random_weights and reg.identity("clip") == "paper-shape:random-seed0"
    dino = reg.dino()
    assert (dino.config.hidden_size, dino.config.patch_size, dino.config.num_hidden_layers) == (768, 8, 12)
    clip = reg.clip()[0]
    assert (clip.config.vision_config.hidden_size, clip.config.vision_config.patch_size) == (768, 16)
    feats = reg.extractor("dino", OVDiffConfig().features)(torch.rand(1, 3, 32, 48))
    assert feats.shape == (1, 768, 4, 6)


@pytest.mark.slow
def test_paper_shape_generator_has_sd15_feature_width():
    reg = ModelRegistry("paper-shape")
    ext = reg.extractor("sd", OVDiffConfig().features)
    assert ext.dim == 6400


def test_dinov2_small_profile_is_paper_settings_with_dino_only():
    """Few-shot profile: the paper's windows and k-means; only DINO; no CLIP pre-filter; own MaskCut; part
    prototypes that follow the support size (chosen on real photos, docs/REAL_WEIGHTS.md)."""
    import dataclasses

    cfg, paper = default_config("dinov2-small"), OVDiffConfig()
    assert cfg.features.extractors == ("dino",) and not cfg.segment.category_prefilter
    assert cfg.segment.window_sizes == paper.segment.window_sizes
    assert cfg.prototypes.parts_rule == "adaptive" and cfg.prototypes.parts_balance
    assert paper.prototypes.parts_rule == "fixed"  # the paper's 32 parts stay the paper's
    adaptive = ("parts_rule", "parts_patches_per_part", "parts_balance")
    assert dataclasses.replace(cfg.prototypes, **{f: getattr(paper.prototypes, f) for f in adaptive}) == \
        paper.prototypes
    assert cfg.masks.proposer == "maskcut" and cfg.masks.maskcut_center and cfg.masks.maskcut_layer is not None


def test_dinov2_small_has_no_generator_and_no_clip(tmp_path):
    reg = ModelRegistry("dinov2-small", sources={"dino": str(save_tiny_models(tmp_path)["dinov2"])})
    assert not reg.is_random_weights
    with pytest.raises(MissingModelError, match="no image generator.*support images"):
        reg.generator()
    with pytest.raises(MissingModelError, match="no CLIP"):
        reg.clip()


def test_maskcut_backbone_defaults_to_the_dino_model_and_can_differ(tmp_path, monkeypatch):
    saved = save_tiny_models(tmp_path)
    reg = ModelRegistry("paper", sources={"dino": str(saved["dinov2"])})
    assert reg._get("maskcut") is reg.dino() and reg.identity("maskcut") == reg.identity("dino")
    monkeypatch.setenv("OVDIFF_MASKCUT_DINO", str(saved["dino"]))
    other = ModelRegistry("paper", sources={"dino": str(saved["dinov2"])})
    assert other._get("maskcut") is not other.dino() and other.identity("maskcut") != other.identity("dino")
    masks, feats = default_config("tiny").masks, default_config("tiny").features
    ext = other.maskcut_extractor(dataclasses.replace(masks, maskcut_layer=0), feats)
    assert ext(torch.rand(1, 3, 64, 64)).shape[1] == 32  # tiny ViT (hidden 32), block 0


def test_reproduction_record_names_only_the_roles_a_profile_has(tmp_path):
    """dinov2-small has no generator and no CLIP: the run record (the run page's model table) does not list them
    as random models; tiny lists all three."""
    from engine.record import model_records

    few_shot = ModelRegistry("dinov2-small")
    assert [r for r in ("generator", "dino", "clip") if few_shot.has_role(r)] == ["dino"]
    tiny = ModelRegistry("tiny")
    assert all(tiny.has_role(r) for r in ("generator", "dino", "clip"))
    assert sorted(model_records(tiny)) == ["clip", "dino", "generator"]
