"""What a run reproduced, for its page: the ``reproduction`` block of its metrics.json (written by the metrics
task: profile, model ids with weight hashes, mask proposer, changed settings), or, before that file exists, what
the run's stored settings alone say. Reads no model and hashes no file in the web process."""
from __future__ import annotations

import json
from typing import Any

from engine.config import OVDiffConfig
from engine.record import settings_record
from ovdiff_web.common.paths import media_path


def run_reproduction(run: Any) -> dict[str, Any] | None:
    """The run's reproduction record, or None when its settings are not a valid configuration."""
    path = media_path(f"runs/{run.pk}/metrics.json")  # fetched when a worker elsewhere wrote it
    try:
        record = json.loads(path.read_text()).get("reproduction")
    except (OSError, ValueError, AttributeError):
        record = None
    if isinstance(record, dict):
        return record
    try:
        return settings_record(OVDiffConfig.from_dict(run.settings or {}), run.profile)
    except (TypeError, ValueError):
        return None
