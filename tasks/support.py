"""The support room's tasks (gpu): support set + masks + prototype banks for ONE class of a run, and the PNGs the
dashboard shows; one class rebuilt outside any run. Public names: ``tasks.artifacts.*``.

Idempotent: the engine's store is content-addressed (a re-delivered task is a cache hit) and rows are
``get_or_create``/``update_or_create`` by key.
"""
from __future__ import annotations

from typing import Any

from celery import shared_task

from ovdiff_web.support.artifacts import record_artifacts
from ovdiff_web.support.curation import note_built
from tasks.base import EngineTask, RunTask, cancel_checker, deadline_checker, fault_progress, load_active_run, run_guard
from ovdiff_web.common import engine_bridge
from ovdiff_web.runs import state as run_state
from ovdiff_web.vocabularies.models import VocabularyClass


@shared_task(bind=True, base=RunTask, name="tasks.artifacts.build_class_artifacts")
def build_class_artifacts(self: RunTask, run_id: int, class_index: int) -> dict[str, Any]:
    """Build (or find) the artifacts of class ``class_index`` of the run's vocabulary snapshot."""

    run = load_active_run(run_id)
    if run is None:
        return {"skipped": "run not active"}
    spec = run.class_specs()[class_index]
    with run_guard(run_id, "support"):
        run_state.stage_start(run_id, "support")
        ovd = self.ovdiff(run.profile, run.settings)
        built = not engine_bridge.class_is_cached(ovd, self.store, spec)  # False: a cache hit
        cancel = cancel_checker(run_id)
        support = ovd.support_set(spec, progress=fault_progress, cancel=cancel)  # cached once written
        run_state.stage_start(run_id, "banks")
        banks = ovd.banks(spec, progress=fault_progress, cancel=cancel)
        entry = (run.vocabulary_snapshot or [{}] * (class_index + 1))[class_index]
        record_artifacts(run.profile, support, banks, spec=spec, class_id=entry.get("class_id"), run_id=run_id)
        note_built(entry.get("class_id"), entry.get("support_version") or 0, support.key)
        run_state.stage_advance(run_id, "support")
        run_state.stage_advance(run_id, "banks")
        return {"class": spec.name, "built": built, "support_key": support.key,
                "banks": {k: b.key for k, b in banks.items()}}
    return {"class": spec.name, "cancelled": True}


@shared_task(bind=True, base=EngineTask, name="tasks.artifacts.regenerate_class", acks_late=False)
def regenerate_class(self: EngineTask, class_id: int, profile: str, settings_dict: dict[str, Any]) -> dict[str, Any]:
    """Build one vocabulary class's artifacts outside any run (the ``regenerate`` API action)."""

    cls = VocabularyClass.objects.get(pk=class_id)
    spec = cls.to_spec()
    ovd = self.ovdiff(profile, settings_dict)
    cancel = deadline_checker()  # bounded: a rebuild never holds a worker past OVDIFF_TASK_TIME_LIMIT_S

    def progress(stage: str, done: int, total: int) -> None:  # the class page's progress bar reads this
        fault_progress(stage, done, total)
        if self.request.id:
            self.update_state(state="PROGRESS", meta={"stage": stage, "done": done, "total": total})

    banks = ovd.banks(spec, progress=progress, cancel=cancel)
    support = ovd.support_set(spec, cancel=cancel)
    record_artifacts(profile, support, banks, spec=spec, class_id=cls.pk)
    note_built(cls.pk, cls.support_version, support.key)
    return {"class": spec.name, "support_key": support.key, "support_version": cls.support_version}
