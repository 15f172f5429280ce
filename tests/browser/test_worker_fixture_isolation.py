"""The browser tests' private Celery configuration must not outlive them: a later test in the same session
(e.g. tests/service/test_tasks.py::test_routes_and_retry_policy) routes by the project's own queue names."""
from __future__ import annotations

from typing import Any

from tests.browser.conftest import BROKER, private_celery_conf

TASKS = ("tasks.segment.segment_shard", "tasks.metrics.finalize_metrics")


def _routed(app: Any) -> list[str]:
    return [app.amqp.router.route({}, name)["queue"].name for name in TASKS]


def test_private_queues_are_used_inside_and_forgotten_after(settings: Any) -> None:
    from ovdiff_web.celery import app

    before = _routed(app)  # builds (and caches) Celery's router from the project's routes first
    conf_before = (app.conf.broker_url, app.conf.task_default_queue, app.conf.task_routes)
    with private_celery_conf(app, settings, "isolation-", BROKER):
        assert _routed(app) == [f"isolation-{name}" for name in before]
        assert app.amqp.default_queue.name == "isolation-cpu"
    assert _routed(app) == before == ["gpu", "cpu"]
    assert app.amqp.default_queue.name == "cpu"
    assert (app.conf.broker_url, app.conf.task_default_queue, app.conf.task_routes) == conf_before
