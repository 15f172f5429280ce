"""The OVDiff facade: cached artifacts are reused, keys follow their inputs, bad classes are refused."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import BadInputError
from engine.pipeline import OVDiff
from engine.profiles import default_config
from engine.storage.store import ArtifactStore
from engine.types import ClassSpec


@pytest.fixture()
def ovd(tiny_registry, tmp_path):
    return OVDiff(default_config("tiny"), tiny_registry, ArtifactStore(tmp_path / "store"))


def test_banks_are_built_once_then_read_from_the_store(ovd, monkeypatch):
    import engine.support.sampling as sampling  # the pipeline imports it when a class must be sampled

    calls = {"sample": 0}
    real = sampling.sample_support_images

    def counting(*a, **k):
        calls["sample"] += 1
        return real(*a, **k)

    monkeypatch.setattr(sampling, "sample_support_images", counting)
    cls = ClassSpec("brick")
    first = ovd.banks(cls)
    assert set(first) == {"sd", "dino", "clip"} and calls["sample"] == 1
    assert ovd.is_cached(cls)
    again = OVDiff(ovd.config, ovd.registry, ovd.store).banks(cls)
    assert calls["sample"] == 1, "a cached class must not be sampled again"
    for e in first:
        assert np.allclose(first[e].fg.numpy(), again[e].fg.numpy())
        assert first[e].fg_sources == again[e].fg_sources


def test_keys_change_with_what_determines_the_artifact(ovd):
    a = ovd.support_key(ClassSpec("brick"))
    assert a == ovd.support_key(ClassSpec("brick", is_stuff=True)), "thing/stuff does not change a support set"
    assert a != ovd.support_key(ClassSpec("grass"))
    other = OVDiff(ovd.config.replace(support=ovd.config.support.__class__(seed=7, image_size=64)),
                   ovd.registry, ovd.store)
    assert other.support_key(ClassSpec("brick")) != a
    assert ovd.bank_keys(ClassSpec("brick"))["sd"] != ovd.bank_keys(ClassSpec("brick"))["dino"]


def test_empty_class_name_is_refused(ovd):
    with pytest.raises(BadInputError):
        ovd.support_key(ClassSpec("  "))


def test_segment_returns_labels_at_image_size_with_background_first(ovd):
    classes = [ClassSpec("brick"), ClassSpec("grass", is_stuff=True)]
    image = (np.random.default_rng(0).random((70, 90, 3)) * 255).astype(np.uint8)
    seg = ovd.segment(image, classes, explain=True)
    assert seg.labels.shape == (70, 90)
    assert seg.label_names == ["background", "brick", "grass"]
    assert set(np.unique(seg.labels)) <= {0, 1, 2}
    assert set(seg.winners) == {"sd", "dino", "clip"}


def test_user_support_folder_replaces_sampling(ovd, tmp_path, monkeypatch):
    from PIL import Image

    import engine.support.sampling as sampling

    folder = tmp_path / "mine"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray((rng.random((48, 48, 3)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    monkeypatch.setattr(sampling, "sample_support_images", lambda *a, **k: pytest.fail("must not sample"))
    banks = ovd.banks(ClassSpec("logo", user_support_dir=str(folder)))
    assert banks["dino"].fg.shape[0] >= 1
    support = ovd.support_set(ClassSpec("logo", user_support_dir=str(folder)))
    assert support.source == "user" and len(support.images) == 3
