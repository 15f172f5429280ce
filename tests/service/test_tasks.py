"""Task plumbing without models: canvas shape, metrics merge, label mapping, failure/cancel recording,
idempotent progress, retry policy."""
from __future__ import annotations

import time

import pytest
from celery import chord
from django.db import OperationalError
from PIL import Image

from engine.errors import BadInputError, CancelledError
from ovdiff_web.core.models import Dataset, ImageResult, Run, RunShard, RunStage
from ovdiff_web.runs import state as run_state
from tasks.base import cancel_checker, load_active_run, run_guard
from tasks.runs import build_workflow, finalize_metrics, segment_shard, task_ids
from tasks.support import build_class_artifacts


def test_workflow_queues_one_chunk_then_advances(settings) -> None:
    """Classes first, then shards, then metrics, each in chunks of OVDIFF_FAIR_CHUNK; the chord's callback
    (advance_run) queues the rest at the tail of the queue, so other users' work interleaves."""
    settings.OVDIFF_FAIR_CHUNK = 2
    wf = build_workflow(7, [0, 2, 5], [0, 1, 2])
    assert isinstance(wf, chord)
    assert [(t.task, t.args) for t in wf.tasks] == [("tasks.artifacts.build_class_artifacts", (7, 0)),
                                                    ("tasks.artifacts.build_class_artifacts", (7, 2))]
    assert wf.body.task == "tasks.workflow.advance_run" and wf.body.args == (7, [5], [0, 1, 2])
    last_class = build_workflow(7, [5], [0, 1, 2])
    assert [t.args for t in last_class.tasks] == [(7, 5)] and last_class.body.args == (7, [], [0, 1, 2])
    shards = build_workflow(7, [], [0, 1, 2])
    assert [(t.task, t.args) for t in shards.tasks] == [("tasks.segment.segment_shard", (7, 0)),
                                                        ("tasks.segment.segment_shard", (7, 1))]
    assert shards.body.args == (7, [], [2])
    final = build_workflow(7, [], [])
    assert final.task == "tasks.metrics.finalize_metrics" and final.args == (7,)
    assert all(t.immutable for t in [*wf.tasks, wf.body, *shards.tasks, final])
    ids = task_ids(wf)
    assert len(ids) == 3 and len(set(ids)) == 3  # fixed up front: cancel revokes them, the watchdog finds them
    big = build_workflow(7, list(range(10_000)), [0], chunk=8)
    assert len(big.tasks) == 8  # a 10,000-class vocabulary queues 8 tasks at a time, not 10,000


def test_routes_and_retry_policy(settings) -> None:
    from ovdiff_web.celery import app

    assert app.amqp.router.route({}, "tasks.segment.segment_shard")["queue"].name == "gpu"
    assert app.amqp.router.route({}, "tasks.artifacts.build_class_artifacts")["queue"].name == "gpu"
    assert app.amqp.router.route({}, "tasks.metrics.finalize_metrics")["queue"].name == "cpu"
    assert app.conf.worker_prefetch_multiplier == 1 and app.conf.task_acks_late
    assert app.conf.broker_transport_options["visibility_timeout"] > 6 * 3600
    for task in (build_class_artifacts, segment_shard, finalize_metrics):
        assert OperationalError in task.autoretry_for
        assert not any(issubclass(BadInputError, e) or issubclass(MemoryError, e) for e in task.autoretry_for)


@pytest.fixture
def run(db, user, tmp_path) -> Run:
    root = tmp_path / "d"  # a folder dataset of classes a, b (no background); finalize reads its classes
    (root / "images").mkdir(parents=True)
    (root / "classes.txt").write_text("a\nb\n")
    for name in ("x", "y"):
        Image.new("RGB", (4, 4)).save(root / "images" / f"{name}.png")
    ds = Dataset.objects.create(name="d", format="folder", source="server", root=str(root), status="ready",
                                class_names=["a", "b"], image_ids=["x", "y"])
    run = Run.objects.create(dataset=ds, profile="tiny", class_names=["a", "b"], image_ids=["x", "y"],
                             is_random_weights=True, status="running")
    RunStage.objects.bulk_create([RunStage(run=run, name=n, order=i, total=t) for i, (n, t) in
                                  enumerate([("support", 2), ("banks", 2), ("segment", 2), ("metrics", 1)])])
    return run


def test_finalize_merges_shards(run: Run) -> None:
    RunShard.objects.create(run=run, index=0, image_ids=["x"], confusion=[[2, 0, 0], [0, 1, 1], [0, 0, 0]],
                            finished_at="2026-01-01T00:00:00Z")
    RunShard.objects.create(run=run, index=1, image_ids=["y"], confusion=[[1, 1, 0], [0, 1, 0], [0, 0, 0]],
                            finished_at="2026-01-01T00:00:00Z")
    finalize_metrics.apply(args=(run.pk,)).get()
    run.refresh_from_db()
    assert run.status == "succeeded" and run.finished_at
    assert run.per_class_iou == {"a": pytest.approx(3 / 4), "b": pytest.approx(2 / 4)}
    assert run.miou == pytest.approx(0.625)
    assert run.stages.get(name="metrics").status == "done"


def test_finalize_refuses_partial_results(run: Run) -> None:
    RunShard.objects.create(run=run, index=0, image_ids=["x"], confusion=None)
    result = finalize_metrics.apply(args=(run.pk,))
    assert result.failed()
    run.refresh_from_db()
    assert run.status == "failed" and "did not finish" in run.error and "Traceback" in run.traceback


def test_failure_keeps_error_traceback_and_earlier_results(run: Run) -> None:
    ImageResult.objects.create(run=run, image_id="x", iou=0.5)
    with pytest.raises(BadInputError):
        with run_guard(run.pk, "segment"):
            raise BadInputError("broken file", item="y.png")
    run.refresh_from_db()
    assert run.status == "failed" and "y.png: broken file" in run.error and "BadInputError" in run.traceback
    assert run.image_results.count() == 1 and run.stages.get(name="segment").status == "failed"


def test_transient_errors_propagate_without_failing_the_run(run: Run) -> None:
    with pytest.raises(OperationalError):
        with run_guard(run.pk):
            raise OperationalError("database is locked")
    run.refresh_from_db()
    assert run.status == "running"


def test_cancellation_is_recorded_quietly(run: Run) -> None:
    with run_guard(run.pk, "segment"):
        raise CancelledError("stop")
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert load_active_run(run.pk) is None


def test_cancel_checker_throttles_database_reads(run: Run) -> None:
    cancel = cancel_checker(run.pk, interval=0.2)
    assert cancel() is False
    Run.objects.filter(pk=run.pk).update(cancel_requested=True)
    assert cancel() is False  # within the interval: no new read
    time.sleep(0.25)
    assert cancel() is True
    assert load_active_run(run.pk) is None
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_image_progress_is_idempotent(run: Run) -> None:
    for _ in range(2):  # a re-delivered shard rewrites the same rows
        for image_id in ("x", "y"):
            ImageResult.objects.update_or_create(run=run, image_id=image_id, defaults={"iou": 0.1})
            run_state.stage_sync_images(run.pk)
    stage = run.stages.get(name="segment")
    assert (stage.done, stage.status, run.image_results.count()) == (2, "done", 2)
    run_state.stage_advance(run.pk, "support", 1)
    run_state.stage_advance(run.pk, "support", 1, skipped=1)
    support = run.stages.get(name="support")
    assert (support.done, support.skipped, support.status) == (2, 1, "done")


def test_engine_objects_are_cached_once_per_process_and_lazily(settings, tmp_path) -> None:
    from ovdiff_web.common.engine_bridge import ENGINE_CACHE

    settings.OVDIFF_STORE_DIR = tmp_path / "store"
    saved = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ENGINE_CACHE.items()}
    ENGINE_CACHE.update(registries={}, ovdiffs={}, store=None)
    try:
        cfg = {"support": {"n_images": 2}}
        from ovdiff_web.common.engine_bridge import build_config

        full = build_config("tiny", cfg).to_dict()
        a = build_class_artifacts.ovdiff("tiny", full)
        b = segment_shard.ovdiff("tiny", full)
        assert a is b and a.registry is finalize_metrics.registry("tiny")
        assert a.registry._models == {}  # nothing loaded until a stage needs a model
    finally:
        ENGINE_CACHE.clear()
        ENGINE_CACHE.update(saved)
