"""The DINO forward on ONNX Runtime (``runtime.dino_backend``): same features as torch in float32 for every facet and
block, int8 close, the cached model built once and deterministically, and the backend chosen per profile/device.
Tiny random DINOv2 (no real weights); the label agreement on real photos is tests/engine/real/test_dino_backend.py.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

from engine.config import FeatureConfig, OVDiffConfig
from engine.errors import BadInputError
from engine.features.dino import DinoKeyExtractor
from engine.features.dino_onnx import OnnxFacet
from engine.models.builders import tiny_dino, tiny_dinov2
from engine.models.registry import ModelRegistry
from engine.runtime import RuntimeConfig, dino_backend


@pytest.fixture(scope="module")
def model():
    return tiny_dinov2().eval()


def _pair(model, tmp_path, layer, facet, precision="fp32", keep="none"):  # noqa: ANN001, ANN202
    cfg = dataclasses.replace(FeatureConfig(), dino_layer=layer, dino_facet=facet)
    onnx = OnnxFacet(model, layer, facet, precision, keep, 1, tmp_path)
    return DinoKeyExtractor(model, cfg), DinoKeyExtractor(model, cfg, onnx=onnx)


@pytest.mark.parametrize("facet", ["key", "query", "value", "token"])
@pytest.mark.parametrize("layer", [0, 1, -1])
def test_fp32_graph_matches_torch(model, tmp_path, facet, layer):
    ref, fast = _pair(model, tmp_path, layer, facet)
    x = torch.rand(2, 3, 70, 45)  # batch of two, not square, not a multiple of the patch: positions interpolated
    a, b = ref(x), fast(x)
    assert a.shape == b.shape == (2, 32, 8, 5)
    assert (a - b).abs().max().item() < 1e-5
    assert fast.backend == "onnx-fp32" and ref.backend == "torch"


def test_int8_stays_close_and_keeping_layers_in_fp32_helps(model, tmp_path):
    x = torch.rand(1, 3, 64, 64)
    ref = _pair(model, tmp_path, 1, "key")[0](x).flatten(2)
    cos = {}
    for keep in ("none", "first+read"):
        out = _pair(model, tmp_path, 1, "key", "int8", keep)[1](x).flatten(2)
        cos[keep] = torch.nn.functional.cosine_similarity(ref, out, dim=1).mean().item()
    assert cos["none"] > 0.95 and cos["first+read"] > cos["none"]


def test_model_is_built_once_deterministically_and_cached_by_content(model, tmp_path):
    a = OnnxFacet(model, 1, "key", "int8", "read", 1, tmp_path / "a")
    b = OnnxFacet(model, 1, "key", "int8", "read", 1, tmp_path / "b")
    assert a.path.name == b.path.name and a.path.read_bytes() == b.path.read_bytes()
    assert a.optimized_path.is_file()
    stamp = a.path.stat().st_mtime_ns
    again = OnnxFacet(model, 1, "key", "int8", "read", 1, tmp_path / "a")  # loads the cached, optimised model
    assert again.path.stat().st_mtime_ns == stamp and len(list((tmp_path / "a").glob("*.onnx"))) == 2
    x = torch.rand(1, 3, 56, 56)
    assert torch.equal(a(x), again(x))
    other = OnnxFacet(model, 1, "key", "int8", "none", 1, tmp_path / "a")  # other settings: another file
    changed = tiny_dinov2().eval()
    with torch.no_grad():
        changed.encoder.layer[0].mlp.fc1.weight.add_(0.01)  # other weights: another file
    assert len({a.key, other.key, OnnxFacet(changed, 1, "key", "int8", "read", 1, tmp_path / "a").key}) == 3
    unused = tiny_dinov2().eval()
    with torch.no_grad():
        unused.encoder.layer[1].mlp.fc1.weight.add_(0.01)  # a block after the one read: not in the graph
    assert OnnxFacet(unused, 1, "key", "int8", "read", 1, tmp_path / "a").key == a.key


def test_auto_runs_onnx_for_the_few_shot_profile_on_the_cpu_only():
    auto = RuntimeConfig()
    assert dino_backend(auto, "dinov2-small", "cpu") == "onnx-int8"
    for profile in ("paper", "sdov", "tiny", "paper-shape"):
        assert dino_backend(auto, profile, "cpu") == "torch"
    assert dino_backend(auto, "dinov2-small", "cuda") == "torch"
    assert dino_backend(RuntimeConfig(dino_backend="onnx-fp32"), "paper", "cpu") == "onnx-fp32"
    with pytest.raises(ValueError, match="CPU only"):
        dino_backend(RuntimeConfig(dino_backend="onnx-int8"), "dinov2-small", "cuda")
    with pytest.raises(BadInputError, match="CPU only"):
        ModelRegistry("tiny", device="cuda", runtime=RuntimeConfig(dino_backend="onnx-int8")).dino_backend()


def test_settings_are_checked_and_parsed():
    cfg = OVDiffConfig.from_dict({"runtime": {"dino_backend": "onnx-int8", "dino_int8_keep_fp32": "read",
                                              "onnx_threads": 1}})
    assert cfg.runtime.dino_backend == "onnx-int8" and cfg.runtime.onnx_threads == 1
    for bad in ({"dino_backend": "tensorrt"}, {"dino_int8_keep_fp32": "all"}, {"onnx_threads": -1}):
        with pytest.raises(ValueError, match="runtime"):
            RuntimeConfig(**bad)


def test_registry_gives_the_onnx_extractor_and_marks_int8_artifacts(model, tmp_path, monkeypatch):
    monkeypatch.setenv("OVDIFF_MODELS_DIR", str(tmp_path))
    model.save_pretrained(tmp_path / "dinov2-tiny")  # a converted backbone in the models cache
    cfg = FeatureConfig(extractors=("dino",), dino_layer=1)
    src = {"dino": str(tmp_path / "dinov2-tiny")}
    plain = ModelRegistry("tiny", src)
    fp32 = ModelRegistry("tiny", src, runtime=RuntimeConfig(dino_backend="onnx-fp32"))
    int8 = ModelRegistry("tiny", src, runtime=RuntimeConfig(dino_backend="onnx-int8"))
    assert plain.extractor("dino", cfg).backend == "torch"
    assert int8.extractor("dino", cfg).backend == "onnx-int8"
    assert fp32.extractor("dino", cfg).backend == "onnx-fp32"
    assert fp32.identity("dino") == plain.identity("dino")  # float32: rounding apart, same artifacts
    assert int8.identity("dino") == plain.identity("dino") + "+onnx-int8"
    assert ModelRegistry("tiny", src).identity("dino") == plain.identity("dino")  # the cache left the weights alone
    assert list((tmp_path / "dinov2-tiny.onnx").glob("*-int8-*.onnx"))  # cached beside the weights
    assert ModelRegistry("tiny", runtime=RuntimeConfig(dino_backend="onnx-fp32")).onnx_cache_dir() == tmp_path / "onnx"


def test_other_backbones_are_refused_with_a_clear_message(tmp_path):
    with pytest.raises(BadInputError, match="DINOv2"):
        OnnxFacet(tiny_dino().eval(), 1, "key", "fp32", "none", 1, tmp_path)
