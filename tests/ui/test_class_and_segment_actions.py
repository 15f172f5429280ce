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


def test_a_legacy_segmentation_is_shown_to_its_owner_only(ui: Any, media_root: Path, user: Any,
                                                          other_user: Any) -> None:
    """A read-only record of the earlier one-image path (migration 0013) keeps its old URLs, for its owner only."""
    from django.test import Client

    from tests.ui.factories import make_stored_segmentation

    token = make_stored_segmentation(media_root, user)
    html = ui.get(f"/segment/{token}/").content.decode()
    assert "Legend" in html and "brick" in html and "sky" in html
    assert ui.get(f"/segment/{token}/labels.png")["Content-Type"] == "image/png"
    explained = ui.get(f"/segment/{token}/explain.json?x=1&y=1").json()
    assert explained["class_name"] == "brick"
    assert ui.get(f"/files/segment/{token}/image.png").status_code == 200
    urls = (f"/segment/{token}/", f"/segment/{token}/labels.png", f"/segment/{token}/explain.json?x=1&y=1")
    bob = Client()
    bob.force_login(other_user)
    for url in (*urls, f"/files/segment/{token}/image.png"):
        assert bob.get(url).status_code == 404, url
    anonymous = Client()
    for url in urls:  # every dashboard page sends anonymous users to sign in: nothing of the record is shown
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"] and token not in \
            response.content.decode(), url
    assert anonymous.get(f"/files/segment/{token}/image.png").status_code == 404
    assert ui.get("/segment/" + "f" * 32 + "/").status_code == 404  # no such record
    assert ui.get("/segment/not-a-token/").status_code == 404


def test_a_legacy_segmentation_that_never_finished_says_why(ui: Any, user: Any) -> None:
    from ovdiff_web.predictions.models import LegacySegmentation

    LegacySegmentation.objects.create(token="b" * 32, user=user, profile="tiny", class_names=["cat"],
                                      status="failed", error="not finished before the upgrade")
    html = ui.get("/segment/" + "b" * 32 + "/").content.decode()
    assert "not finished before the upgrade" in html and "cat" in html


def test_the_retired_segment_task_still_takes_a_queued_message(user: Any) -> None:
    """A message queued by the previous version still finds the task by name and ends cleanly."""
    import tasks  # noqa: F401  (what a worker imports: registers every task)
    from ovdiff_web.celery import app
    from ovdiff_web.predictions.models import LegacySegmentation

    assert "tasks.segment_image.segment_image" in app.tasks
    record = LegacySegmentation.objects.create(token="c" * 32, user=user, profile="tiny", class_names=["cat"],
                                               status="failed", error="not finished before the upgrade")
    result = app.tasks["tasks.segment_image.segment_image"].apply(args=(record.pk,))
    assert result.successful() and result.get()["record"] == "failed"
    assert app.tasks["tasks.segment_image.segment_image"].apply(args=(999999,)).get()["record"] is None
    record.refresh_from_db()
    assert record.status == "failed" and record.error == "not finished before the upgrade"  # untouched
