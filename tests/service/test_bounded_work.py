"""Bounded work: settings are checked for type and range when a run or a rebuild is asked for (400 naming the
field and what is allowed), per-user limits, and every task's time limit."""
from __future__ import annotations

import dataclasses
import time
import typing
from typing import Any

import pytest

from ovdiff_web.core.models import Run, VocabularyClass

pytestmark = pytest.mark.django_db

BAD_SETTINGS = [
    ({"support": {"n_images": 1_000_000}}, "settings.support.n_images", "from 1 to 128"),
    ({"support": {"n_images": "abc"}}, "settings.support.n_images", "an integer"),
    ({"support": {"n_images": -5}}, "settings.support.n_images", "from 1 to 128"),
    ({"support": {"n_images": 2.5}}, "settings.support.n_images", "an integer"),
    ({"support": {"n_images": True}}, "settings.support.n_images", "an integer"),
    ({"support": {"prompt_template": "{}{}"}}, "settings.support.prompt_template", "exactly one {}"),
    ({"support": {"prompt_template": "a photo"}}, "settings.support.prompt_template", "exactly one {}"),
    ({"support": {"prompt_template": "a {x} of {}"}}, "settings.support.prompt_template", "exactly one {}"),
    ({"support": {"prompt_template": "{}" + "x" * 600}}, "settings.support.prompt_template", "at most 500"),
    ({"support": {"guidance_scale": 1e300}}, "settings.support.guidance_scale", "from 0 to 50"),
    ({"support": 5}, "settings.support", "object"),
    ({"masks": {"proposer": "bogus"}}, "settings.masks.proposer", "one of"),
    ({"features": {"extractors": []}}, "settings.features.extractors", "non-empty"),
    ({"features": {"extractors": ["sd", "sd"]}}, "settings.features.extractors", "twice"),
    ({"segment": {"window_sizes": [10**9]}}, "settings.segment.window_sizes", "from 32 to 2048"),
    ({"segment": {"pamr": "yes"}}, "settings.segment.pamr", "true or false"),
]


@pytest.mark.parametrize("overrides,field,allowed", BAD_SETTINGS)
def test_bad_settings_are_400_naming_field_and_range(api: Any, demo_dataset: dict[str, Any], overrides: Any,
                                                     field: str, allowed: str) -> None:
    response = api.post("/api/runs/", {"dataset": demo_dataset["id"], "settings": overrides}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body and allowed in body[field][0], body
    assert not Run.objects.exists()
    vocab = api.post("/api/vocabularies/", {"name": "v", "names": "cat"}, format="json").json()
    cls = vocab["classes"][0]["id"]
    response = api.post(f"/api/classes/{cls}/regenerate/", {"settings": overrides}, format="json")
    assert response.status_code == 400 and field in response.json() and allowed in response.json()[field][0]


def test_dashboard_run_form_names_the_setting(ui_client: Any, user: Any, tmp_path: Any) -> None:
    from tests.ui.factories import make_demo_dataset

    dataset = make_demo_dataset(tmp_path / "demo", owner=user)
    response = ui_client.post("/runs/", {"dataset": dataset.pk, "profile": "tiny",
                                         "overrides": '{"support": {"n_images": 1000000}}'})
    assert response.status_code == 400 and "settings.support.n_images" in response.content.decode()


def test_every_numeric_setting_has_a_range_and_the_profiles_pass() -> None:
    from engine.config import OVDiffConfig
    from ovdiff_web.common.engine_bridge import build_config
    from ovdiff_web.common.settings_check import RANGES

    for group in dataclasses.fields(OVDiffConfig):
        section = group.default_factory()  # type: ignore[misc]
        hints = typing.get_type_hints(type(section))
        for f in dataclasses.fields(section):
            hint = hints[f.name]
            numeric = hint in (int, float) or (typing.get_origin(hint) is tuple and typing.get_args(hint)[0] is int)
            if numeric:
                assert f"{group.name}.{f.name}" in RANGES, f"{group.name}.{f.name} needs a range"
    for profile in ("tiny", "paper", "paper-shape"):
        build_config(profile)  # the defaults themselves are valid


def test_classes_per_vocabulary_are_capped(api: Any, settings: Any) -> None:
    settings.OVDIFF_MAX_CLASSES_PER_VOCABULARY = 3
    response = api.post("/api/vocabularies/", {"name": "v", "names": "a, b, c, d"}, format="json")
    assert response.status_code == 400 and "at most 3 classes" in response.json()["names"][0]
    vocab = api.post("/api/vocabularies/", {"name": "w", "names": "a, b"}, format="json").json()
    response = api.post(f"/api/vocabularies/{vocab['id']}/classes/bulk/", {"names": "c, d"}, format="json")
    assert response.status_code == 400 and "names" in response.json()
    assert VocabularyClass.objects.filter(vocabulary_id=vocab["id"]).count() == 2  # nothing of the refused bulk
    assert api.post("/api/classes/", {"vocabulary": vocab["id"], "name": "c"}, format="json").status_code == 201
    assert api.post("/api/classes/", {"vocabulary": vocab["id"], "name": "d"}, format="json").status_code == 400


def test_queued_runs_per_user_are_capped(api: Any, demo_dataset: dict[str, Any], settings: Any,
                                         other_user: Any, django_user_model: Any) -> None:
    settings.OVDIFF_MAX_ACTIVE_PER_USER = 2
    for _ in range(2):
        assert api.post("/api/runs/", {"dataset": demo_dataset["id"]}, format="json").status_code == 201
    response = api.post("/api/runs/", {"dataset": demo_dataset["id"]}, format="json")
    assert response.status_code == 429 and "limit is 2 per user" in response.json()["detail"]
    Run.objects.filter(status="queued").update(status="succeeded")
    assert api.post("/api/runs/", {"dataset": demo_dataset["id"]}, format="json").status_code == 201


def test_limit_is_bounded(api: Any, demo_dataset: dict[str, Any]) -> None:
    for limit in (10**20, 0, -1, "x"):
        response = api.post("/api/runs/", {"dataset": demo_dataset["id"], "limit": limit}, format="json")
        assert response.status_code == 400 and "limit" in response.json(), limit


def test_task_time_limit_is_enforced_through_the_engine_callback(settings: Any) -> None:
    from tasks.base import TaskTimeLimit, deadline_checker

    check = deadline_checker(0.05)
    assert check() is False
    time.sleep(0.1)
    with pytest.raises(TaskTimeLimit, match="time limit of 0 s"):
        check()
    from ovdiff_web.celery import app

    assert app.conf.task_soft_time_limit and app.conf.task_time_limit  # prefork pools: Celery's own limits too


def test_cancel_checker_enforces_the_limit_and_beats(settings: Any, user: Any) -> None:
    import tasks.base as base
    from tasks.base import TaskTimeLimit, cancel_checker

    run = Run.objects.create(profile="tiny", status=Run.Status.RUNNING, created_by=user)
    settings.OVDIFF_TASK_TIME_LIMIT_S = 0.2
    old = base.HEARTBEAT_SECONDS
    base.HEARTBEAT_SECONDS = 0.0
    try:
        check = cancel_checker(run.pk)
        assert check() is False
        run.refresh_from_db()
        assert run.heartbeat_at is not None
        time.sleep(0.3)
        with pytest.raises(TaskTimeLimit):
            check()
    finally:
        base.HEARTBEAT_SECONDS = old
