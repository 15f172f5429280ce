"""An ONNX graph of a DINOv2 encoder that stops at the facet the profile reads, built from the model's weights.

The graph is written node by node (no exporter). Inputs: ``pixels`` (B, 3, H, W) in [0, 1], sides multiples of
the patch, and ``positions`` (1, 1 + h*w, D), the position embeddings interpolated to the grid (the torch model's
``interpolate_pos_encoding``, computed once per window size by the caller), so one graph serves every window size.
Inside: ImageNet normalisation, patch convolution, CLS token, positions, the blocks up to the one read. Output:
that block's facet (``key``/``query``/``value``: its ``norm1`` then the projection; ``token``: the block's output),
(B, 1 + h*w, D). Blocks after it are not in the graph.

Attention is ONNX Runtime's fused ``com.microsoft.Attention`` (one packed QKV weight, softmax inside the kernel);
the MLP's GELU is the exact (erf) ``com.microsoft.Gelu``, as ``hidden_act="gelu"``. Initializer and node names
are fixed, so the same weights give the same bytes (the cache is content-addressed on them).

``int8_exclude`` lists the nodes int8 dynamic quantisation keeps in float32: block 0 (its inputs are the raw
embeddings) and the projection the profile reads are the most sensitive (measured, docs/REAL_WEIGHTS.md "CPU
runtime").
"""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.features.common import IMAGENET_MEAN, IMAGENET_STD

GRAPH_VERSION = 1  # bump when the graph changes: part of the cache key
OPSET = 17


def _names(layer: int) -> dict[str, str]:
    return {p: f"encoder.layer.{layer}.{p}" for p in ("norm1", "attention", "layer_scale1", "norm2", "mlp",
                                                      "layer_scale2")}


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def int64(self, name: str, value: list[int]) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.array(value, dtype=np.int64), name))
        return name

    def op(self, op: str, inputs: list[str], name: str, domain: str = "", **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [name], name=name, domain=domain, **attrs))
        return name


def _layernorm(g: _Graph, x: str, sd: dict[str, np.ndarray], prefix: str, eps: float) -> str:
    w = g.const(f"{prefix}.weight", sd[f"{prefix}.weight"])
    b = g.const(f"{prefix}.bias", sd[f"{prefix}.bias"])
    return g.op("LayerNormalization", [x, w, b], f"{prefix}", axis=-1, epsilon=eps)


def _linear(g: _Graph, x: str, sd: dict[str, np.ndarray], prefix: str) -> str:
    w = g.const(f"{prefix}.weight_t", sd[f"{prefix}.weight"].T)  # Linear (out, in) -> MatMul (in, out)
    b = g.const(f"{prefix}.bias", sd[f"{prefix}.bias"])
    return g.op("Add", [g.op("MatMul", [x, w], f"{prefix}.matmul"), b], f"{prefix}")


def _block(g: _Graph, x: str, sd: dict[str, np.ndarray], i: int, heads: int, eps: float) -> str:
    n = _names(i)
    att = n["attention"]
    h = _layernorm(g, x, sd, n["norm1"], eps)
    qkv_w = np.concatenate([sd[f"{att}.{p}_proj.weight"].T for p in "qkv"], axis=1)
    qkv_b = np.concatenate([sd[f"{att}.{p}_proj.bias"] for p in "qkv"])
    a = g.op("Attention", [h, g.const(f"{att}.qkv.weight_t", qkv_w), g.const(f"{att}.qkv.bias", qkv_b)],
             f"{att}", domain="com.microsoft", num_heads=heads)
    a = _linear(g, a, sd, f"{att}.o_proj")
    a = g.op("Mul", [a, g.const(f"{n['layer_scale1']}.lambda1", sd[f"{n['layer_scale1']}.lambda1"])],
             f"{n['layer_scale1']}")
    x = g.op("Add", [x, a], f"encoder.layer.{i}.residual1")
    h = _layernorm(g, x, sd, n["norm2"], eps)
    h = g.op("Gelu", [_linear(g, h, sd, f"{n['mlp']}.fc1")], f"{n['mlp']}.gelu", domain="com.microsoft")
    h = _linear(g, h, sd, f"{n['mlp']}.fc2")
    h = g.op("Mul", [h, g.const(f"{n['layer_scale2']}.lambda1", sd[f"{n['layer_scale2']}.lambda1"])],
             f"{n['layer_scale2']}")
    return g.op("Add", [x, h], f"encoder.layer.{i}.output")


def _embeddings(g: _Graph, sd: dict[str, np.ndarray], patch: int, dim: int) -> str:
    """pixels -> normalised -> patch conv -> (B, h*w, D) -> CLS first -> + positions (HF Dinov2Embeddings)."""
    x = g.op("Sub", ["pixels", g.const("imagenet.mean", np.array(IMAGENET_MEAN).reshape(1, 3, 1, 1))], "normalise.sub")
    x = g.op("Div", [x, g.const("imagenet.std", np.array(IMAGENET_STD).reshape(1, 3, 1, 1))], "normalise")
    proj = "embeddings.patch_embeddings.projection"
    x = g.op("Conv", [x, g.const(f"{proj}.weight", sd[f"{proj}.weight"]), g.const(f"{proj}.bias", sd[f"{proj}.bias"])],
             proj, kernel_shape=[patch, patch], strides=[patch, patch])
    flat = g.int64("embeddings.flat_shape", [0, dim, -1])
    x = g.op("Transpose", [g.op("Reshape", [x, flat], "embeddings.flatten")], "embeddings.patches", perm=[0, 2, 1])
    batch = g.op("Slice", [g.op("Shape", ["pixels"], "embeddings.shape"), g.int64("zero", [0]), g.int64("one", [1])],
                 "embeddings.batch")
    cls_shape = g.op("Concat", [batch, g.int64("embeddings.cls_tail", [1, dim])], "embeddings.cls_shape", axis=0)
    cls = g.op("Expand", [g.const("embeddings.cls_token", sd["embeddings.cls_token"]), cls_shape], "embeddings.cls")
    x = g.op("Concat", [cls, x], "embeddings.tokens", axis=1)
    return g.op("Add", [x, "positions"], "embeddings")


def facet_graph(sd: dict[str, np.ndarray], layer: int, facet: str, heads: int, eps: float) -> Any:
    """``ModelProto``: (pixels, positions) -> block ``layer``'s ``facet`` (B, 1 + h*w, D); ``layer`` >= 0."""
    from onnx import TensorProto, helper

    g = _Graph()
    dim = int(sd["encoder.layer.0.norm1.weight"].shape[0])
    patch = int(sd["embeddings.patch_embeddings.projection.weight"].shape[-1])
    x = _embeddings(g, sd, patch, dim)
    for i in range(layer):
        x = _block(g, x, sd, i, heads, eps)
    if facet == "token":
        x = _block(g, x, sd, layer, heads, eps)
    else:
        h = _layernorm(g, x, sd, _names(layer)["norm1"], eps)
        x = _linear(g, h, sd, f"{_names(layer)['attention']}.{facet[0]}_proj")
    g.nodes.append(helper.make_node("Identity", [x], ["facet"], name="facet"))
    graph = helper.make_graph(
        g.nodes, f"dinov2-block{layer}-{facet}",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, "height", "width"]),
         helper.make_tensor_value_info("positions", TensorProto.FLOAT, [1, "sequence", dim])],
        [helper.make_tensor_value_info("facet", TensorProto.FLOAT, ["batch", "sequence", dim])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                    helper.make_opsetid("com.microsoft", 1)],
                              producer_name="ovdiff", producer_version=str(GRAPH_VERSION))
    model.ir_version = 8
    return model


# Which nodes int8 dynamic quantisation keeps in float32 (``runtime.dino_int8_keep_fp32``).
KEEP_FP32: dict[str, tuple[str, ...]] = {
    "none": (),
    "read": ("read",),  # the projection the profile reads
    "first-fc1+read": ("read", "mlp.fc1.matmul"),  # + block 0's first MLP layer (the most sensitive, measured)
    "first-mlp+read": ("read", "mlp.fc1.matmul", "mlp.fc2.matmul"),
    "first+read": ("read", "mlp.fc1.matmul", "mlp.fc2.matmul", "attention", "attention.o_proj.matmul"),
    "attention+read": ("read", "*attention", "*attention.o_proj.matmul"),  # int8 MLPs only; * = every block
}


def int8_exclude(layer: int, facet: str, keep_fp32: str) -> list[str]:
    """Names of the nodes kept in float32 when the rest of the graph is quantised to int8 (see ``KEEP_FP32``)."""
    if keep_fp32 not in KEEP_FP32:
        raise ValueError(f"int8 keep_fp32 must be one of {', '.join(KEEP_FP32)}")
    out: list[str] = []
    for part in KEEP_FP32[keep_fp32]:
        if part.startswith("*"):
            out += [f"encoder.layer.{i}.{part[1:]}" for i in range(layer + 1)]
        elif part != "read":
            out.append(f"encoder.layer.0.{part}")
        elif facet == "token":
            out += [f"encoder.layer.{layer}.mlp.fc1.matmul", f"encoder.layer.{layer}.mlp.fc2.matmul"]
        else:
            out.append(f"encoder.layer.{layer}.attention.{facet[0]}_proj.matmul")
    return sorted(set(out))
