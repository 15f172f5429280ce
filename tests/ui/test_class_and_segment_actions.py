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


def test_regenerations_count_in_the_per_user_job_limit(ui: Any, user: Any, cls: VocabularyClass,
                                                       private_queue: Any, settings: Any) -> None:
    import json

    from ovdiff_web.celery import app
    from ovdiff_web.accounts import quotas

    client, prefix = private_queue
    settings.OVDIFF_MAX_ACTIVE_PER_USER = 2
    for seed in ("1", "2"):
        assert ui.post(f"/classes/{cls.pk}/regenerate/", {"seed": seed, "profile": "tiny"}).status_code == 302
    assert quotas.active_jobs(user) == 2
    response = ui.post(f"/classes/{cls.pk}/regenerate/", {"seed": "3", "profile": "tiny"})
    assert response.status_code == 429 and "limit is 2 per user" in response.content.decode()
    api = ui.post(f"/api/classes/{cls.pk}/regenerate/", {"settings": {"support": {"seed": 3}}},
                  content_type="application/json")
    assert api.status_code == 429 and "limit is 2 per user" in api.json()["detail"]
    assert client.llen(f"{prefix}gpu") == 2  # the refused rebuilds were not queued
    with pytest.raises(quotas.QuotaExceeded):  # a run counts against the same limit
        quotas.check_can_queue(user)
    done = json.loads(client.lindex(f"{prefix}gpu", 0))["headers"]["id"]
    app.backend.store_result(done, None, "SUCCESS")  # one rebuild finished: it no longer counts
    try:
        assert quotas.active_jobs(user) == 1
        assert ui.post(f"/classes/{cls.pk}/regenerate/", {"seed": "3", "profile": "tiny"}).status_code == 302
    finally:
        app.backend.forget(done)


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


def legacy_job(user: Any, media_root: Path) -> Any:
    """A ``SegmentJob`` of the earlier "segment an image" page, as it was stored (row + image.png)."""
    import uuid

    from ovdiff_web.predictions.models import SegmentJob

    token = uuid.uuid4().hex
    (media_root / "segment" / token).mkdir(parents=True)
    Image.open(_png()).save(media_root / "segment" / token / "image.png")
    return SegmentJob.objects.create(token=token, user=user, profile="tiny", class_names=["cat"])


def _queued_messages(client: Any, queue: str) -> list[dict[str, Any]]:
    import base64
    import json

    out = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        out.append({"task": message["headers"]["task"], "args": json.loads(base64.b64decode(message["body"]))[0]})
    return out


@pytest.mark.slow  # builds two tiny support sets (~50 s on a busy 2-core machine)
def test_segment_job_runs_in_the_task_and_only_its_owner_sees_it(ui: Any, media_root: Path, private_queue: Any,
                                                                   user: Any, other_user: Any) -> None:
    from django.test import Client

    from ovdiff_web.predictions.models import SegmentJob
    from tasks.segment_image import segment_image

    job = legacy_job(user, media_root)  # an earlier single-image job, still queued when the service was upgraded
    segment_image.apply(args=(job.pk,))  # what the worker does with the queued message
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    html = ui.get(f"/segment/{job.token}/").content.decode()
    assert "Legend" in html and "cat" in html
    assert ui.get(f"/segment/{job.token}/labels.png").status_code == 200
    assert ui.get(f"/segment/{job.token}/explain.json?x=1&y=1").status_code == 200
    bob = Client()
    bob.force_login(other_user)
    for url in (f"/segment/{job.token}/", f"/segment/{job.token}/labels.png",
                f"/segment/{job.token}/explain.json?x=1&y=1", f"/files/segment/{job.token}/image.png"):
        assert bob.get(url).status_code == 404, url
