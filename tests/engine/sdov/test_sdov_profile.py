"""The ``sdov`` profile and the settings it switches: each changes what it says, paper defaults unchanged."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.config import OVDiffConfig
from engine.errors import BadInputError
from engine.evaluation.datasets.base import Sample, SegDataset
from engine.evaluation.evaluate import dataset_classes
from engine.pipeline import OVDiff, support_feature_config
from engine.profiles import default_config
from engine.record import changed_settings
from engine.segment.prefilter import CategoryPrefilter, code_prefilter_image
from engine.storage.store import ArtifactStore
from engine.support.attribution import AttributionRecorder, finalize_attribution
from engine.types import ClassSpec


def test_sdov_differs_from_paper_only_where_the_code_does():
    changed = {c["setting"]: c["value"] for c in changed_settings(default_config("sdov"), "paper")}
    assert changed == {
        "support.prompt_template": "A good picture of a {}",
        "support.negative_prompt": "text, low quality, blurry, cartoon, meme, low resolution, bad, poor, faded",
        "support.n_images": 32,
        "support.attribution_token_order": "upsample-then-mean",
        "support.attribution_final_mode": "bilinear",
        "support.scheduler": "dpm-solver-0.14",
        "masks.proposer": "cutler",
        "masks.maskcut_area_rule_first": False,
        "masks.maskcut_resample": "lanczos",
        "masks.zero_score_pixels": "top",
        "features.sd_include_mid_block": True,
        "features.sd_latent": "sample",
        "features.sd_noise_seed": 43,
        "features.clip_support_native": True,
        "features.dino_max_side": 800,
        "features.dino_fit": "crop",
        "features.resize_antialias": False,
        "segment.short_side_rounding": "floor",
        "segment.stuff_filter_min_prototypes": 2,
        "segment.prefilter_image_prep": "code",
        "segment.prefilter_clip_dtype": "float16",
        "segment.thing_stuff_table": "paper_chatgpt",
        "segment.class_prompts": "sdov",
    }
    assert default_config("paper") == OVDiffConfig()


def test_per_token_order_matters_only_for_multi_token_names():
    g = torch.Generator().manual_seed(0)
    probs = (torch.randn(2 * 8, 16, 77, generator=g) * 10).softmax(-1)  # sharp maps: bicubic undershoots 0

    def run(positions, per_token):
        rec = AttributionRecorder(positions, (4, 4), 16, cfg_batches=False, per_token=per_token)
        rec.record(probs, heads=8)
        return rec.accumulated

    assert torch.allclose(run([5], False), run([5], True))
    assert not torch.allclose(run([5, 6], False), run([5, 6], True))
    acc = run([5], False)
    assert not np.allclose(finalize_attribution(acc, 40, "bicubic"), finalize_attribution(acc, 40, "bilinear"))


def test_sd_latent_sample_and_noise_seed_change_sd_features(tiny_registry):
    base = default_config("tiny").features
    image = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    mean = tiny_registry.extractor("sd", base)(image)
    sample = tiny_registry.extractor("sd", dataclasses.replace(base, sd_latent="sample"))(image)
    seeded = tiny_registry.extractor("sd", dataclasses.replace(base, sd_noise_seed=43))(image)
    again = tiny_registry.extractor("sd", dataclasses.replace(base, sd_latent="sample"))(image[:1])
    assert not torch.allclose(mean, sample) and not torch.allclose(mean, seeded)
    assert torch.allclose(sample[:1], again, atol=1e-5), "one image's features do not depend on its batch"


def test_clip_support_native_only_changes_clip_for_support_images():
    cfg = default_config("sdov")
    assert support_feature_config(cfg, "clip").clip_input_size == 512
    assert support_feature_config(cfg, "dino") == cfg.features
    assert support_feature_config(OVDiffConfig(), "clip").clip_input_size == 448


def test_code_prefilter_prep_feeds_the_scorer_512_squares():
    seen = []

    def scorer(image, prompts):
        seen.append(image.shape)
        return torch.zeros(len(prompts))

    image = (np.random.default_rng(0).random((300, 500, 3)) * 255).astype(np.uint8)
    classes = [ClassSpec("cat"), ClassSpec("dog"), ClassSpec("sky", is_stuff=True)]
    CategoryPrefilter(scorer, default_config("sdov").segment)(image, classes)
    CategoryPrefilter(scorer, OVDiffConfig().segment)(image, classes)
    assert seen[0] == (512, 512, 3) and seen[-1] == (300, 500, 3)
    assert code_prefilter_image(image, 448).shape == (512, 512, 3)


def test_thing_stuff_table_is_the_codes_for_sdov():
    sample = Sample("x", Path("x.jpg"), Path("x.png"))
    ds = SegDataset("ade20k", ["wall", "blanket", "chest of drawers"], [sample], has_background=False,
                    check_files=False)
    own = {c.name: c.is_stuff for c in dataset_classes(ds)}
    code = {c.name: c.is_stuff for c in dataset_classes(ds, table="paper_chatgpt")}
    assert own["blanket"] is False and code["blanket"] is True  # the code's IS_STUFF keeps ChatGPT's "stuff"
    assert code["wall"] is True and code["chest of drawers"] is False
    with pytest.raises(BadInputError, match="thing_stuff_table"):
        dataset_classes(ds, table="nope")


@pytest.mark.slow  # seconds (subprocesses, every route or file kind): make test, not test-fast
def test_sdov_settings_run_end_to_end_on_tiny_models(tiny_registry, tmp_path):
    """Every sdov switch except CutLER (needs detectron2) on the tiny profile's sizes: the code paths run."""
    tiny, sdov = default_config("tiny"), default_config("sdov")
    cfg = tiny.replace(
        support=dataclasses.replace(tiny.support, prompt_template=sdov.support.prompt_template,
                                    negative_prompt=sdov.support.negative_prompt,
                                    attribution_token_order="upsample-then-mean", attribution_final_mode="bilinear",
                                    scheduler=sdov.support.scheduler),
        features=dataclasses.replace(tiny.features, sd_latent="sample", sd_noise_seed=43,
                                     clip_support_native=True, dino_max_side=100, dino_fit="crop"),
        segment=dataclasses.replace(tiny.segment, prefilter_image_prep="code", thing_stuff_table="paper_chatgpt",
                                    class_prompts="sdov", prefilter_clip_dtype=sdov.segment.prefilter_clip_dtype),
    )
    ovd = OVDiff(cfg, tiny_registry, ArtifactStore(tmp_path / "store"))
    image = (np.random.default_rng(0).random((70, 90, 3)) * 255).astype(np.uint8)
    seg = ovd.segment(image, [ClassSpec("red panda"), ClassSpec("grass", is_stuff=True)])
    assert seg.labels.shape == (70, 90)
    assert ovd.banks(ClassSpec("red panda"))["clip"].fg.shape[1] > 0
    assert ovd._scorer.antialias is False  # the code's pre-filter resize reaches the cached CLIP scorer
    assert ovd._scorer.precision == "float32"  # the code's fp16 pre-filter CLIP is for CUDA only


def test_sdov_runs_sd_in_float16_on_cuda_only():
    """The authors' fp16 Stable Diffusion is the one precision setting's ``auto`` (runtime.generator_dtype)."""
    from engine.models.registry import ModelRegistry

    runtime = default_config("sdov").runtime
    assert ModelRegistry("sdov", device="cuda:0", runtime=runtime).dtype("generator") is torch.float16
    assert ModelRegistry("sdov", device="cuda:0", runtime=runtime).dtype("dino") is torch.float32
    assert ModelRegistry("sdov", device="cpu", runtime=runtime).dtype("generator") is torch.float32
    forced = dataclasses.replace(runtime, generator_dtype="fp32")  # a user can still choose float32 on CUDA
    assert ModelRegistry("sdov", device="cuda:0", runtime=forced).dtype("generator") is torch.float32


def test_maskcut_resample_lanczos_is_what_dino_sees():
    from PIL import Image

    from engine.config import MaskConfig
    from engine.masks.maskcut import propose_masks_maskcut

    image = (np.random.default_rng(3).random((50, 70, 3)) * 255).astype(np.uint8)
    seen = []

    def keys(x: torch.Tensor) -> torch.Tensor:  # records the input, returns fixed key features
        seen.append(x[0].permute(1, 2, 0).numpy())
        return torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))

    for mode, resample in (("lanczos", Image.LANCZOS), ("bilinear", Image.BILINEAR)):
        propose_masks_maskcut(image, keys, MaskConfig(maskcut_resize=64, maskcut_resample=mode))
        expected = np.asarray(Image.fromarray(image).resize((64, 64), resample), dtype=np.float32) / 255
        assert np.allclose(seen[-1], expected)
    assert not np.allclose(seen[0], seen[1])


def test_dino_cap_and_crop_are_the_codes_target_preparation(tiny_registry):
    import torch.nn.functional as F

    base = default_config("tiny").features
    code = tiny_registry.extractor("dino", dataclasses.replace(base, dino_max_side=80, dino_fit="crop"))
    plain = tiny_registry.extractor("dino", base)
    g = torch.Generator().manual_seed(2)
    odd = torch.rand(1, 3, 70, 45, generator=g)  # under the cap: cropped to 64 x 40, not resized
    assert torch.allclose(code(odd), plain(odd[..., :64, :40]), atol=1e-5)
    assert not torch.allclose(code(odd), plain(odd), atol=1e-3)
    wide = torch.rand(1, 3, 40, 100, generator=g)  # long side 100 > 80: scaled to 32 x 80 first
    assert code.grid(40, 100) == (4, 10)
    scaled = F.interpolate(wide, size=(32, 80), mode="bilinear", align_corners=False, antialias=False)
    assert torch.allclose(code(wide), plain(scaled), atol=1e-5)
