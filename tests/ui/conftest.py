"""Dashboard test fixtures: a signed-in client, a real demo dataset ingested by the service, and a finished run
whose predictions, per-image IoU and confusion matrix are computed by the engine's metrics from real files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

from tests.ui.factories import make_demo_dataset, make_finished_run  # noqa: E402


@pytest.fixture
def ui(client: Any, user: Any, media_root: Path) -> Any:
    """Django test client signed in as ``alice``."""
    client.force_login(user)
    return client


@pytest.fixture
def dataset(media_root: Path, tmp_path: Path, user: Any) -> Any:
    """The engine's synthetic demo dataset in folder format (owned by ``alice``), ingested (status READY)."""
    return make_demo_dataset(tmp_path / "demo", owner=user)


@pytest.fixture
def finished_run(dataset: Any, user: Any, media_root: Path) -> Any:
    """A succeeded tiny-profile run whose prediction of image i is the ground truth shifted by 3*i pixels."""
    return make_finished_run(dataset, user, media_root)
