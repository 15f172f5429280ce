"""Run records: profile, weights with hashes, the proposer used (substitute noted) and changed settings."""
from __future__ import annotations

import dataclasses
import hashlib
import os

from engine.config import MaskConfig, OVDiffConfig
from engine.weights_hash import file_sha256, weights_digest, weights_sha256
from engine.profiles import default_config
from engine.record import MASKCUT_SUBSTITUTE, changed_settings, model_records, proposer_record


def test_paper_profiles_without_cutler_say_maskcut_substitute(monkeypatch):
    monkeypatch.delenv("OVDIFF_CUTLER_WEIGHTS", raising=False)
    paper = proposer_record(OVDiffConfig(), "paper")
    assert paper == {"mask_proposer": "maskcut", "mask_proposer_note": MASKCUT_SUBSTITUTE}
    assert MASKCUT_SUBSTITUTE == "MaskCut substitute for CutLER"
    sdov = default_config("sdov")
    on_cpu = sdov.replace(masks=dataclasses.replace(sdov.masks, proposer="maskcut"))
    assert proposer_record(on_cpu, "sdov")["mask_proposer_note"] == MASKCUT_SUBSTITUTE
    assert proposer_record(sdov, "sdov") == {"mask_proposer": "cutler", "cutler_weights": "cutler:unset"}
    assert "mask_proposer_note" not in proposer_record(default_config("tiny"), "tiny")
    off = OVDiffConfig().replace(masks=MaskConfig(use_instance_masks=False))
    assert proposer_record(off, "paper")["mask_proposer"] == "attribution"


def test_changed_settings_are_relative_to_the_profile():
    cfg = default_config("sdov")
    assert changed_settings(cfg, "sdov") == []
    cfg = cfg.replace(support=dataclasses.replace(cfg.support, n_images=8))
    assert changed_settings(cfg, "sdov") == [{"setting": "support.n_images", "value": 8, "default": 32}]


def test_weights_are_hashed_and_hub_blobs_read_for_free(tmp_path):
    model = tmp_path / "model" / "unet"
    model.mkdir(parents=True)
    (model / "diffusion_pytorch_model.safetensors").write_bytes(b"weights")
    (model / "config.json").write_text("{}")
    blob = tmp_path / "blobs" / ("ab" * 32)
    blob.parent.mkdir()
    blob.write_bytes(b"not what the name says")
    os.symlink(blob, tmp_path / "model" / "model.bin")
    files = weights_sha256(tmp_path / "model")
    assert files == {"unet/diffusion_pytorch_model.safetensors": hashlib.sha256(b"weights").hexdigest(),
                     "model.bin": "ab" * 32}
    assert file_sha256(model / "diffusion_pytorch_model.safetensors") == hashlib.sha256(b"weights").hexdigest()
    digest = weights_digest(tmp_path / "model")
    (model / "diffusion_pytorch_model.safetensors").write_bytes(b"other weights")
    assert weights_digest(tmp_path / "model") != digest


def test_random_models_are_named_not_hashed(tiny_registry):
    records = model_records(tiny_registry)
    assert set(records) == {"generator", "dino", "clip"}
    assert all(r["identity"].startswith("tiny:random") and "weights_sha256" not in r for r in records.values())
