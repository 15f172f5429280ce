"""The ``sdov`` profile (the authors' code's configuration, docs/SDOV_PROFILE.md) is a choice everywhere the CLI's
other profiles are: the model field, the run form, the API and ``OVDIFF_PROFILE``."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.profiles import PROFILES, default_config
from ovdiff_web.runs.api.serializers import RunCreateSerializer
from ovdiff_web.support.serializers import RegenerateSerializer
from ovdiff_web.predictions.forms import PredictionForm
from ovdiff_web.runs.forms import RunForm
from ovdiff_web.support.forms import RegenerateForm
from ovdiff_web.core.models import PROFILE_CHOICES, Run, SupportSet

REPO = Path(__file__).resolve().parents[2]


def test_every_engine_profile_is_a_service_choice() -> None:
    assert [name for name, _ in PROFILE_CHOICES] == list(PROFILES)
    for field in (Run._meta.get_field("profile"), SupportSet._meta.get_field("profile"),
                  RunForm.base_fields["profile"], PredictionForm.base_fields["profile"],
                  RegenerateForm.base_fields["profile"], RegenerateSerializer().fields["profile"],
                  RunCreateSerializer().fields["profile"]):
        assert "sdov" in dict(field.choices), field


@pytest.mark.parametrize("profile", ["sdov", "not-a-profile"])
def test_ovdiff_profile_setting_accepts_sdov_only_among_known_names(profile: str, tmp_path: Path) -> None:
    env = {**os.environ, "OVDIFF_PROFILE": profile, "OVDIFF_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", "from ovdiff_web import settings; print(settings.OVDIFF_PROFILE)"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    if profile == "sdov":
        assert done.returncode == 0 and done.stdout.strip() == "sdov", done.stderr
    else:
        assert done.returncode != 0 and "OVDIFF_PROFILE must be one of" in done.stderr


@pytest.mark.django_db
def test_runs_queue_with_the_sdov_profile_from_api_and_form(ui: Any, dataset: Any,
                                                            django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        created = ui.post("/api/runs/", {"dataset": dataset.pk, "profile": "sdov"}, content_type="application/json")
    assert created.status_code == 201, created.content
    assert len(callbacks) == 1 and created.json()["profile"] == "sdov" and created.json()["random_weights"] is False
    run = Run.objects.get(pk=created.json()["id"])
    assert not run.is_random_weights
    assert run.settings["support"] == default_config("sdov").to_dict()["support"]
    assert run.settings["masks"]["proposer"] == "cutler"

    assert 'value="sdov"' in ui.get("/runs/").content.decode()
    with django_capture_on_commit_callbacks():
        posted = ui.post("/runs/", {"dataset": dataset.pk, "profile": "sdov"})
    assert posted.status_code == 302, posted.content.decode()[-2000:]
    assert Run.objects.latest("pk").profile == "sdov"
