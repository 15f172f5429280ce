"""Class page "Regenerate support set" (queued on a private queue, status shown, broker down is a message not a
500) and the segment page refusing full-size profiles inside a web request."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ovdiff_web.core.models import Vocabulary, VocabularyClass

pytestmark = pytest.mark.django_db


@pytest.fixture
def cls(user: Any) -> VocabularyClass:
    vocab = Vocabulary.objects.create(name="v", owner=user)
    return VocabularyClass.objects.create(vocabulary=vocab, name="cat")


@pytest.fixture
def private_queue(settings: Any) -> Any:
    """A queue prefix no worker consumes; its Redis keys are deleted afterwards."""
    import redis

    from ovdiff_web.celery import app

    client = redis.Redis.from_url(app.conf.broker_url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("local Redis is not running")
    prefix = f"uiregen{os.getpid()}-"
    settings.OVDIFF_QUEUE_PREFIX = prefix
    yield client, prefix
    client.delete(f"{prefix}gpu", f"{prefix}cpu")


def test_regenerate_queues_with_seed_and_shows_status(ui: Any, cls: VocabularyClass, private_queue: Any) -> None:
    import json

    client, prefix = private_queue
    response = ui.post(f"/classes/{cls.pk}/regenerate/", {"seed": "7", "profile": "tiny"})
    assert response.status_code == 302
    assert client.llen(f"{prefix}gpu") == 1  # routed to the prefixed gpu queue
    message = json.loads(client.lindex(f"{prefix}gpu", 0))
    assert message["headers"]["task"] == "tasks.artifacts.regenerate_class"
    args = json.loads(__import__("base64").b64decode(message["body"]))[0]
    assert args[0] == cls.pk and args[1] == "tiny" and args[2]["support"]["seed"] == 7
    html = ui.get(f"/classes/{cls.pk}/").content.decode()
    assert 'data-job="' in html and ">queued</span>" in html and "with seed 7" in html
    task_id = message["headers"]["id"]
    status = ui.get(f"/classes/{cls.pk}/regenerate/{task_id}.json").json()
    assert status["status"] == "queued" and status["finished"] is False
    assert ui.get(f"/classes/{cls.pk}/regenerate/not-mine.json").status_code == 404


def test_regenerate_bad_seed_is_a_field_error(ui: Any, cls: VocabularyClass) -> None:
    response = ui.post(f"/classes/{cls.pk}/regenerate/", {"seed": "-3", "profile": "tiny"})
    assert response.status_code == 400
    html = response.content.decode()
    seed_field = html[html.index('id="id_seed"'):]
    assert "errorlist" in seed_field[: seed_field.index("</div>")] and 'value="-3"' in html


def test_regenerate_with_broker_down_is_a_message(ui: Any, cls: VocabularyClass) -> None:
    from ovdiff_web.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = ui.post(f"/classes/{cls.pk}/regenerate/", {"seed": "3", "profile": "tiny"})
    finally:
        app.conf.broker_url = old
    assert response.status_code == 503
    html = response.content.decode()
    assert "task queue is unavailable" in html and "nothing was queued" in html
    assert 'value="3"' in html
    assert ui.get(f"/classes/{cls.pk}/regenerate/x.json").status_code == 404  # nothing recorded


def test_regenerate_missing_class_is_404(ui: Any) -> None:
    assert ui.post("/classes/999999/regenerate/", {"profile": "tiny"}).status_code == 404


def _png() -> io.BytesIO:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8)).save(buf, format="PNG")
    buf.seek(0)
    buf.name = "x.png"
    return buf


@pytest.mark.parametrize("profile", ["paper", "paper-shape"])
def test_segment_refuses_full_size_profiles(ui: Any, media_root: Path, profile: str) -> None:
    response = ui.post("/segment/", {"image": _png(), "class_names": "cat, dog", "profile": profile})
    assert response.status_code == 400
    html = response.content.decode()
    profile_field = html[html.index('id="id_profile"'):]
    assert "worker" in profile_field[: profile_field.index("</div>")]
    assert "cat, dog" in html
    assert not (media_root / "segment").exists()  # nothing was computed or stored
