"""Task base: cached engine objects per worker process, run guards (failure/cancel recording) and a
throttled cancel flag reader. Models load on the first task that needs them, never at import or in signals."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from celery import Task
from django.db import OperationalError as DbOperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError  # noqa: TID253  (workers only)
from redis.exceptions import TimeoutError as RedisTimeoutError  # noqa: TID253
from django.conf import settings
import os
from pathlib import Path
from ovdiff_web.runs.models import Run
from ovdiff_web.runs.state import heartbeat
from ovdiff_web.runs.state import mark_cancelled
from engine.errors import CancelledError
from ovdiff_web.runs.state import mark_failed
from ovdiff_web.common import engine_bridge

# Transient infrastructure errors: retried with exponential backoff. Input and memory errors never are.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (DbOperationalError, BrokerOperationalError,
                                                     RedisConnectionError, RedisTimeoutError)
CANCEL_POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 20.0


class TaskTimeLimit(Exception):
    """The task ran longer than OVDIFF_TASK_TIME_LIMIT_S (raised from the engine's cancel callback, so it works in
    every pool, the solo pool of the gpu workers included). Never retried."""


def deadline_checker(limit_s: float | None = None) -> Callable[[], bool]:
    """``cancel()`` for the engine that never cancels but raises TaskTimeLimit once the task's time is up."""

    limit = float(limit_s if limit_s is not None else settings.OVDIFF_TASK_TIME_LIMIT_S)
    deadline = time.monotonic() + limit

    def cancel() -> bool:
        if time.monotonic() > deadline:
            raise TaskTimeLimit(f"the task ran longer than its time limit of {limit:.0f} s "
                                "(OVDIFF_TASK_TIME_LIMIT_S); ask for less work (fewer images or steps)")
        return False

    return cancel


class EngineTask(Task):
    """Base for engine-backed tasks: ``self.ovdiff(profile, settings)`` returns the process's cached ``OVDiff``."""

    abstract = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 120
    retry_jitter = True
    max_retries = 5
    acks_late = True
    reject_on_worker_lost = True

    @property
    def store(self) -> Any:

        return engine_bridge.store()

    def registry(self, profile: str) -> Any:

        return engine_bridge.registry(profile)

    def ovdiff(self, profile: str, settings_dict: dict[str, Any]) -> Any:
        """The worker process's cached ``OVDiff`` (``engine_bridge.ovdiff``): models loaded for start_run are
        the ones build_class_artifacts and segment_shard use."""

        return engine_bridge.ovdiff(profile, settings_dict)


_FAULTS_HIT: set[str] = set()


def fault_point(stage: str) -> None:
    """Fault-injection hook for the reliability tests (tests/reliability/), a no-op unless configured.

    With ``OVDIFF_FAULT_STAGE=<stage>`` and ``OVDIFF_FAULT_DIR`` set, the first time this worker process gets
    here it writes ``<dir>/<stage>.reached`` and really sleeps ``OVDIFF_FAULT_SLEEP_S`` seconds, so a test's
    SIGKILL lands inside that stage (mid-sampling, between banks, mid-shard, before metrics)."""

    if os.environ.get("OVDIFF_FAULT_STAGE") != stage or stage in _FAULTS_HIT:
        return
    _FAULTS_HIT.add(stage)
    folder = os.environ.get("OVDIFF_FAULT_DIR")
    if folder:

        Path(folder, f"{stage}.reached").write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("OVDIFF_FAULT_SLEEP_S", "60")))


def fault_progress(stage: str, done: int, total: int) -> None:
    """Engine progress callback that only serves ``fault_point``: mid-denoising (support) and between banks."""
    if stage == "sampling" and done > 0:
        fault_point("support")
    elif stage == "banks" and done < total:
        fault_point("banks")


def cancel_checker(run_id: int, interval: float = CANCEL_POLL_SECONDS) -> Callable[[], bool]:
    """``cancel()`` for the engine: reads the run's flag at most every ``interval`` seconds, writes the run's
    heartbeat every HEARTBEAT_SECONDS (the watchdog's sign of life) and enforces the task's time limit."""

    state = {"at": 0.0, "value": False, "beat": time.monotonic()}
    deadline = deadline_checker()

    def cancel() -> bool:
        now = time.monotonic()
        deadline()
        if now - state["beat"] >= HEARTBEAT_SECONDS:
            state["beat"] = now
            heartbeat(run_id)
        if not state["value"] and now - state["at"] >= interval:
            state["at"] = now
            state["value"] = bool(Run.objects.filter(pk=run_id, cancel_requested=True).exists())
        return state["value"]

    return cancel


def load_active_run(run_id: int) -> Any:
    """The run if work should continue; None (after recording cancellation) if it was cancelled or ended."""

    run = Run.objects.filter(pk=run_id).first()
    if run is None or run.status in (Run.Status.FAILED, Run.Status.CANCELLED, Run.Status.SUCCEEDED):
        return None
    if run.cancel_requested:
        mark_cancelled(run_id)
        return None
    return run


@contextmanager
def run_guard(run_id: int, stage: str | None = None) -> Iterator[None]:
    """Record the outcome of a task body on the run: cancellation ends quietly, transient errors propagate
    for a retry, everything else marks the run failed (and propagates so the chain stops)."""

    try:
        yield
    except CancelledError:
        mark_cancelled(run_id)
    except TRANSIENT_ERRORS:
        raise
    except BaseException as exc:
        mark_failed(run_id, exc, stage)
        raise


def run_id_of(args: Any, kwargs: Any) -> int | None:
    if kwargs and "run_id" in kwargs:
        return int(kwargs["run_id"])
    if args:
        try:
            return int(args[0])
        except (TypeError, ValueError):
            return None
    return None


class RunTask(EngineTask):
    """Tasks whose first argument is a run id: a final failure (retries exhausted too) fails the run."""

    abstract = True

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:

        run_id = run_id_of(args, kwargs)
        if run_id is not None:
            mark_failed(run_id, exc)
