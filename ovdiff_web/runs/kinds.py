"""What differs between the kinds of job a ``Run`` row holds, declared once: an evaluation (a dataset with ground
truth: scored, metrics, compare) and a prediction job (new images: segmented, not scored). The task chain, the
pages, the API and the cleanup ask ``kind_of(run)`` instead of testing ``run.kind`` themselves.

The prediction kind's hooks live in the predictions room, above this one: ``ovdiff_web.predictions.kind``
registers them when the app starts (``ovdiff_web.core.apps``), so this room never imports that one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ovdiff_web.runs import shards
from ovdiff_web.runs.models import Run


@dataclass(frozen=True)
class RunKind:
    """One kind of job. ``segment_shard(run, shard, ovd, cancel, after_image)`` is the worker side of one shard;
    ``create_from_dataset(**create_run kwargs)`` queues a job of this kind on a dataset's images (None: the
    evaluation path of ``services.create_run``)."""

    value: str
    scored: bool  # ground truth: a metrics stage, confusion matrix, per-class IoU, comparable with other runs
    page: str  # URL name of its detail page (argument: the run's pk)
    segment_shard: Callable[..., Any]
    create_from_dataset: Callable[..., Run] | None = None

    @property
    def stage_counts(self) -> dict[str, int]:
        """Units of work per stage besides segmentation (which counts images)."""
        return {"metrics": 1 if self.scored else 0}


_KINDS: dict[str, RunKind] = {
    Run.Kind.EVALUATION: RunKind(Run.Kind.EVALUATION, scored=True, page="ui:run_detail",
                                 segment_shard=shards.segment_shard),
}


def register(kind: RunKind) -> None:
    """Declare (or replace) a kind's behaviour; called once per process at app start."""
    _KINDS[kind.value] = kind


def kind_of(run_or_value: Run | str) -> RunKind:
    """The behaviour of a run's kind (or of a kind value); LookupError for a kind nobody registered."""
    value = run_or_value.kind if isinstance(run_or_value, Run) else str(run_or_value)
    try:
        return _KINDS[value]
    except KeyError:
        raise LookupError(f"no behaviour registered for run kind {value!r}") from None


def scored_kinds() -> list[str]:
    """Kinds whose runs have metrics (the compare page's choices)."""
    return [k.value for k in _KINDS.values() if k.scored]
