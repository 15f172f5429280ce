"""Settings added for the sdov profile enter artifact keys only when they leave their default (engine.config
``ADDED_SETTINGS`` / ``key_part``): the paper profile's support-set and bank keys stay those computed before the
settings existed, and a profile that changes one gets other keys."""
from __future__ import annotations

import dataclasses

from engine.config import ADDED_SETTINGS, MaskConfig, FeatureConfig, key_part, stable_hash
from engine.profile_sdov import sdov_config

# stable_hash of each group's defaults, computed before the ADDED_SETTINGS existed (commit 7e8e884)
BEFORE = {
    "FeatureConfig": "380a7ea342204a69d241ff65a23739541e33ff2f3fcaa9be7988477a4f78fc9c",
    "MaskConfig": "f7171142ab61e2891461d7e90dd4f7d66f9754d81ccb410f27f58ff6b8a4b499",
}


def test_paper_keys_are_unchanged():
    for group in (FeatureConfig(), MaskConfig()):
        assert stable_hash(key_part(group)) == BEFORE[type(group).__name__]


def test_an_added_setting_away_from_its_default_changes_the_key():
    sdov = sdov_config()
    for group in (FeatureConfig(), MaskConfig()):
        for name in ADDED_SETTINGS.get(type(group).__name__, ()):
            other = getattr(getattr(sdov, "features" if isinstance(group, FeatureConfig) else "masks"), name)
            assert other != getattr(group, name), name  # sdov takes the authors' value
            changed = dataclasses.replace(group, **{name: other})
            assert stable_hash(key_part(changed)) != stable_hash(key_part(group)), name
