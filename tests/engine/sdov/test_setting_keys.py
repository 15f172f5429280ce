"""Settings added for the sdov profile enter artifact keys only when they leave their default (engine.config
``ADDED_SETTINGS`` / ``key_part``): the paper profile's support-set and bank keys stay those computed before the
settings existed, and a profile that changes one gets other keys."""
from __future__ import annotations

import dataclasses

from engine.config import (
    ADDED_SETTINGS,
    FeatureConfig,
    MaskConfig,
    key_part,
    stable_hash,
)
from engine.pipeline import build_ovdiff
from engine.profile_sdov import sdov_config
from engine.profiles import default_config
from engine.types import ClassSpec

# stable_hash of each group's defaults, computed before the ADDED_SETTINGS existed (commit 7e8e884)
BEFORE = {
    "FeatureConfig": "380a7ea342204a69d241ff65a23739541e33ff2f3fcaa9be7988477a4f78fc9c",
    "MaskConfig": "f7171142ab61e2891461d7e90dd4f7d66f9754d81ccb410f27f58ff6b8a4b499",
}


def test_paper_keys_are_unchanged():
    for group in (FeatureConfig(), MaskConfig()):
        assert stable_hash(key_part(group)) == BEFORE[type(group).__name__]


# added settings that are not the authors' (sdov keeps their default), with another value to try
NOT_SDOV = {"user_fg_vocab_weight": 1.0, "user_fg_vocab_conflict": 0.5}


def test_an_added_setting_away_from_its_default_changes_the_key():
    sdov = sdov_config()
    for group in (FeatureConfig(), MaskConfig()):
        for name in ADDED_SETTINGS.get(type(group).__name__, ()):
            other = getattr(getattr(sdov, "features" if isinstance(group, FeatureConfig) else "masks"), name)
            if name in NOT_SDOV:
                assert other == getattr(group, name), name  # sdov keeps the default
                other = NOT_SDOV[name]
            assert other != getattr(group, name), name  # sdov takes the authors' value
            changed = dataclasses.replace(group, **{name: other})
            assert stable_hash(key_part(changed)) != stable_hash(key_part(group)), name


def test_pipeline_keys_follow_the_added_settings(tmp_path):
    """The support-set key reads ``key_part(masks)``, the bank keys ``key_part(features)``."""
    base = default_config("tiny")
    cls = ClassSpec("cat")
    ov = build_ovdiff("tiny", tmp_path, base)
    masks = build_ovdiff("tiny", tmp_path, base.replace(
        masks=dataclasses.replace(base.masks, zero_score_pixels="top")))
    feats = build_ovdiff("tiny", tmp_path, base.replace(
        features=dataclasses.replace(base.features, resize_antialias=False)))
    assert masks.support_key(cls) != ov.support_key(cls)
    assert feats.support_key(cls) == ov.support_key(cls)
    assert set(feats.bank_keys(cls).values()).isdisjoint(ov.bank_keys(cls).values())
