"""The run page says what a run reproduced: profile, mask proposer (MaskCut substitute noted), models, settings."""
from __future__ import annotations

import json
from typing import Any

import pytest

from engine.config import OVDiffConfig
from engine.profiles import default_config
from ovdiff_web.core.models import Run

pytestmark = pytest.mark.django_db


def _section(html: str) -> str:
    start = html.index("data-reproduction")
    return html[start:html.index("</section>", start)]


def test_tiny_run_shows_its_profile_and_no_substitute_note(ui: Any, finished_run: Run) -> None:
    Run.objects.filter(pk=finished_run.pk).update(settings=default_config("tiny").to_dict())
    part = _section(ui.get(f"/runs/{finished_run.pk}/").content.decode())
    assert "tiny" in part and "maskcut" in part and "MaskCut substitute" not in part


def test_paper_run_with_maskcut_says_maskcut_substitute_for_cutler(ui: Any, finished_run: Run) -> None:
    cfg = OVDiffConfig()
    cfg = cfg.replace(support=cfg.support.__class__(n_images=8))
    Run.objects.filter(pk=finished_run.pk).update(profile="paper", settings=cfg.to_dict())
    part = _section(ui.get(f"/runs/{finished_run.pk}/").content.decode())
    assert "MaskCut substitute for CutLER" in part
    assert "support.n_images" in part and "(default 64)" in part


def test_metrics_json_record_shows_model_hashes(ui: Any, finished_run: Run, media_root: Any) -> None:
    record = {"profile": "sdov", "mask_proposer": "cutler", "cutler_weights": "cutler:/w/c.pth@sha256:0123abcd",
              "models": {"generator": {"identity": "stable-diffusion-v1-5/stable-diffusion-v1-5@abc123",
                                       "weights_sha256": "feedbeef00112233"}},
              "settings_changed": []}
    folder = media_root / "runs" / str(finished_run.pk)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps({"miou": 0.5, "reproduction": record}))
    Run.objects.filter(pk=finished_run.pk).update(profile="sdov", settings=default_config("sdov").to_dict())
    part = _section(ui.get(f"/runs/{finished_run.pk}/").content.decode())
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5@abc123" in part and "feedbeef00112233" in part
    assert "cutler:/w/c.pth@sha256:0123abcd" in part and "MaskCut substitute" not in part


def test_unreadable_settings_do_not_break_the_page(ui: Any, finished_run: Run) -> None:
    Run.objects.filter(pk=finished_run.pk).update(settings={"nonsense": {"x": 1}})
    response = ui.get(f"/runs/{finished_run.pk}/")
    assert response.status_code == 200 and "data-reproduction" not in response.content.decode()


def test_metrics_export_carries_the_record(ui: Any, finished_run: Run) -> None:
    Run.objects.filter(pk=finished_run.pk).update(profile="paper", settings=OVDiffConfig().to_dict())
    data = json.loads(ui.get(f"/runs/{finished_run.pk}/export/metrics.json").content)
    assert data["reproduction"]["mask_proposer_note"] == "MaskCut substitute for CutLER"
