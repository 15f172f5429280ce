"""DINOv2 features on ONNX Runtime (``runtime.dino_backend = onnx-fp32 | onnx-int8``), for the CPU.

The graph (``engine.features.dino_graph``) stops at the block the profile reads and uses ORT's fused attention;
``onnx-int8`` quantises the Linear weights to int8 per output channel (dynamic quantisation: activations are
quantised per call), keeping ``runtime.dino_int8_keep_fp32`` in float32. The model is built once and cached in
``cache_dir`` under a content address: sha256 of the weights it holds, the block/facet/precision settings, the
graph version and the onnx/onnxruntime versions. ORT's graph optimisation (level ALL) is saved next to it per CPU
(``<key>.<cpu>.opt.onnx``: ALL may use hardware-specific layouts) and later sessions load that file without
optimising again. Writes are atomic; the build is deterministic (same inputs, same bytes).

Everything the torch extractor does before the backbone (the ``dino_max_side`` cap, the fit to the patch grid) and
after it (dropping CLS, the (B, D, h, w) grid) is shared (``DinoKeyExtractor``); only the forward differs.
Measured against the torch path on real photographs: docs/REAL_WEIGHTS.md "CPU runtime".
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.storage.atomic import atomic_write
from engine.errors import BadInputError, MissingDependencyError
from engine.features.dino_graph import GRAPH_VERSION, facet_graph, int8_exclude

BACKENDS = ("torch", "onnx-fp32", "onnx-int8")
INSTALL_HINT = "pip install onnx onnxruntime (requirements/base.txt), or set runtime.dino_backend=torch"


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise MissingDependencyError(f"runtime.dino_backend=onnx-* needs {module}: {INSTALL_HINT}") from exc


def _block_count(model: Any) -> int:
    return int(model.config.num_hidden_layers)


def graph_weights(model: Any, layer: int, facet: str) -> dict[str, np.ndarray]:
    """The float32 tensors the graph uses (embeddings, blocks before ``layer``, what it reads of ``layer``)."""
    read = f"encoder.layer.{layer}."
    keep = ("embeddings.",) + tuple(f"encoder.layer.{i}." for i in range(layer)) + (
        (read,) if facet == "token" else (f"{read}norm1.", f"{read}attention.{facet[0]}_proj."))
    return {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items() if k.startswith(keep)}


def cache_key(weights: dict[str, np.ndarray], settings: dict[str, Any]) -> str:
    """sha256 over the weights' names, shapes and bytes, the settings and the library versions (16 hex)."""
    h = hashlib.sha256()
    for name in sorted(weights):
        arr = np.ascontiguousarray(weights[name])
        h.update(f"{name}:{arr.shape}:{arr.dtype}\n".encode())
        h.update(arr.tobytes())
    versions = {m: importlib.metadata.version(m) for m in ("onnx", "onnxruntime")}
    h.update(repr(sorted({**settings, **versions, "graph": GRAPH_VERSION}.items())).encode())
    return h.hexdigest()[:16]


def cpu_tag() -> str:
    """Short id of this CPU kind (machine + instruction-set flags): optimised models are kept per CPU kind."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line
                break
    except OSError:
        flags = platform.processor()
    return hashlib.sha256(f"{platform.machine()}|{flags}".encode()).hexdigest()[:8]


def build_model_bytes(weights: dict[str, np.ndarray], layer: int, facet: str, heads: int, eps: float,
                      precision: str, keep_fp32: str) -> bytes:
    """The serialised graph, float32 or int8 (dynamic, per output channel, ``keep_fp32`` nodes left float32)."""
    _require("onnx")
    from onnx import TensorProto

    model = facet_graph(weights, layer, facet, heads, eps)
    if precision == "fp32":
        return model.SerializeToString()
    _require("onnxruntime")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "int8.onnx"
        quantize_dynamic(model, out, weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=int8_exclude(layer, facet, keep_fp32),
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
        return out.read_bytes()


class OnnxFacet:
    """One block's facet of a DINOv2 model on ONNX Runtime: ``(pixels (B,3,H,W) in [0,1]) -> (B, 1+h*w, D)``."""

    def __init__(self, model: Any, layer: int, facet: str, precision: str, keep_fp32: str, threads: int,
                 cache_dir: str | Path) -> None:
        if getattr(model.config, "model_type", "") != "dinov2" or getattr(model.config, "num_register_tokens", 0):
            raise BadInputError("runtime.dino_backend=onnx-* supports DINOv2 backbones (no registers); "
                                "use runtime.dino_backend=torch for this model", item=model.config.model_type)
        n = _block_count(model)
        if not -n <= layer < n:
            raise BadInputError(f"dino extractor: layer out of range for a {n}-block model", item=str(layer))
        self.layer = layer % n
        self.precision = precision
        self.model = model
        self.patch = int(model.config.patch_size)
        self._positions: dict[tuple[int, int], np.ndarray] = {}
        weights = graph_weights(model, self.layer, facet)
        settings = {"layer": self.layer, "facet": facet, "precision": precision,
                    "keep_fp32": keep_fp32 if precision == "int8" else "", "heads": model.config.num_attention_heads,
                    "eps": float(model.config.layer_norm_eps)}
        self.key = cache_key(weights, settings)
        root = Path(cache_dir)
        self.path = root / f"dinov2-block{self.layer}-{facet}-{precision}-{self.key}.onnx"
        if not self.path.is_file():
            root.mkdir(parents=True, exist_ok=True)
            data = build_model_bytes(weights, self.layer, facet, settings["heads"], settings["eps"], precision,
                                     keep_fp32)
            atomic_write(self.path, lambda tmp: tmp.write_bytes(data))
        self.optimized_path = self.path.with_name(f"{self.path.stem}.{cpu_tag()}.opt.onnx")
        self.session = self._session(threads)

    def _session(self, threads: int) -> Any:
        ort = _require("onnxruntime")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads if threads > 0 else max(1, torch.get_num_threads())
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # no spin-waiting after a run: the matching that follows each window runs on the same cores (torch)
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3  # the "hardware specific optimisations" warning is why the file is per CPU
        if self.optimized_path.is_file():
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            return ort.InferenceSession(str(self.optimized_path), so, providers=["CPUExecutionProvider"])
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        tmp = self.optimized_path.with_name(f".{self.optimized_path.name}.tmp-{os.getpid()}")
        so.optimized_model_filepath = str(tmp)
        session = ort.InferenceSession(str(self.path), so, providers=["CPUExecutionProvider"])
        try:
            os.replace(tmp, self.optimized_path)
        except OSError:  # read-only cache: the session still runs; the next process optimises again
            pass
        return session

    def positions(self, height: int, width: int) -> np.ndarray:
        """The model's position embeddings interpolated to an input size (torch, once per size)."""
        key = (height, width)
        if key not in self._positions:
            emb = self.model.embeddings
            n = (height // self.patch) * (width // self.patch)
            dummy = torch.zeros(1, 1 + n, emb.position_embeddings.shape[-1], dtype=emb.position_embeddings.dtype)
            with torch.inference_mode():
                pos = emb.interpolate_pos_encoding(dummy, height, width)
            self._positions[key] = np.ascontiguousarray(pos.float().cpu().numpy())
        return self._positions[key]

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(pixels.detach().float().cpu().numpy())
        out = self.session.run(["facet"], {"pixels": x, "positions": self.positions(x.shape[-2], x.shape[-1])})[0]
        return torch.from_numpy(out)
