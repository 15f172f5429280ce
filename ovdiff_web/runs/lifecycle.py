"""Rename, delete, re-run and clone: the everyday actions of a team on runs, vocabularies, classes and datasets.

Deleting never leaves a run pointing at nothing it needs: a dataset with runs is refused (their galleries,
overlays and confusion cells read its images), an unfinished run is refused (cancel it first). A vocabulary or
class may go while runs used it: each run keeps the snapshot of the classes it evaluated, and the confirmation
page says so. Every change is one transaction; files are removed after the rows.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from ovdiff_web.accounts import audit
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.runs.models import Run
from ovdiff_web.vocabularies.models import Vocabulary, VocabularyClass
from ovdiff_web.common import media_store
from django.db.models import F
from ovdiff_web.datasets.services import discard
from ovdiff_web.runs.services import create_run
import json
from ovdiff_web.common.engine_bridge import build_config
from ovdiff_web.runs.report import flatten
from ovdiff_web.common.errors import Conflict


class Refused(Conflict, ValueError):
    """The action would break something that depends on the object; the message says what."""

    code = "refused"


def dependent_runs(obj: Any) -> list[Run]:
    """Runs that used ``obj`` (a dataset, vocabulary or class), newest first."""
    if isinstance(obj, Dataset):
        runs = Run.objects.filter(dataset=obj)
    elif isinstance(obj, Vocabulary):
        runs = Run.objects.filter(vocabulary=obj)
    elif isinstance(obj, VocabularyClass):
        runs = [r for r in Run.objects.filter(vocabulary_id=obj.vocabulary_id).only("id", "vocabulary_snapshot",
                                                                                   "status", "name")
                if any(e.get("class_id") == obj.pk for e in r.vocabulary_snapshot or [])]
        return runs
    else:
        return []
    return list(runs.only("id", "status", "name"))


def _unique_name(model: Any, name: str, exclude_pk: int, **scope: Any) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise Refused("a name is required")
    if len(name) > 200:
        raise Refused("at most 200 characters")
    if model.objects.filter(name__iexact=name, **scope).exclude(pk=exclude_pk).exists():
        raise Refused(f"the name {name!r} is taken")
    return name


def rename(obj: Any, name: str, *, user: Any = None) -> Any:
    """New name for a vocabulary, dataset or class (unique, case-insensitive; a class within its vocabulary).
    A renamed class keeps its prompt text: with no prompt the generator gets the old name, not the new one."""
    scope = {"vocabulary_id": obj.vocabulary_id} if isinstance(obj, VocabularyClass) else {}
    new = _unique_name(type(obj), name, obj.pk, **scope)
    try:
        with transaction.atomic():
            if isinstance(obj, VocabularyClass):

                prompt = obj.prompt or obj.name  # what the generator received stays the same
                VocabularyClass.objects.filter(pk=obj.pk).update(name=new, prompt="" if prompt == new else prompt,
                                                                 version=F("version") + 1)
                obj.vocabulary.bump_version()
            else:
                type(obj).objects.filter(pk=obj.pk).update(name=new)
    except IntegrityError:
        raise Refused(f"the name {new!r} is taken") from None
    old = obj.name
    obj.refresh_from_db()
    if old != obj.name:
        audit.record(user, obj, "rename", {"name": [old, obj.name]})
    return obj


def set_run_label(run: Run, *, name: str, notes: str, user: Any = None) -> Run:
    new = {"name": " ".join(name.split())[:200], "notes": notes.strip()[:10000]}
    changes = audit.diff(run, new)
    Run.objects.filter(pk=run.pk).update(**new)
    run.refresh_from_db()
    if changes:
        audit.record(user, run, "label", changes)
    return run


def delete_run(run: Run, *, user: Any = None) -> None:
    """Delete a finished run with its results, stages and files (MEDIA_ROOT/runs/<id>)."""
    if not run.is_finished:
        raise Refused(f"run {run.pk} is {run.status}: cancel it first, then delete it")
    pk = run.pk
    media_store.remove(f"runs/{pk}")  # first: with the bucket down nothing is deleted (a 503, the run intact)
    audit.record(user, run, "delete")
    run.delete()
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "runs" / str(pk), ignore_errors=True)


def delete_dataset(dataset: Dataset, *, user: Any = None) -> None:

    runs = dependent_runs(dataset)
    if runs:
        listed = ", ".join(f"#{r.pk}" for r in runs[:10]) + ("…" if len(runs) > 10 else "")
        raise Refused(f"{len(runs)} run(s) read this dataset's images ({listed}): delete them first")
    audit.record(user, dataset, "delete")
    discard(dataset)


def delete_vocabulary(vocabulary: Vocabulary, *, user: Any = None) -> int:
    """Delete a vocabulary and its classes; returns how many runs keep their own snapshot of it."""
    unfinished = [r for r in dependent_runs(vocabulary) if not r.is_finished]
    if unfinished:
        raise Refused(f"run #{unfinished[0].pk} is {unfinished[0].status} with this vocabulary: wait or cancel it")
    kept = Run.objects.filter(vocabulary=vocabulary).count()
    audit.record(user, vocabulary, "delete", from_version=vocabulary.version)
    vocabulary.delete()
    return kept


def delete_class(cls: VocabularyClass, *, user: Any = None) -> int:
    """Delete one class; returns how many runs keep it in their snapshot."""
    runs = dependent_runs(cls)
    unfinished = [r for r in runs if not r.is_finished]
    if unfinished:
        raise Refused(f"run #{unfinished[0].pk} is {unfinished[0].status} with this class: wait or cancel it")
    vocabulary = cls.vocabulary
    audit.record(user, cls, "delete", from_version=cls.version)
    cls.delete()
    vocabulary.bump_version()
    return len(runs)


def rerun(run: Run, user: Any) -> Run:
    """A new run of the same dataset, vocabulary, profile, image limit and complete settings."""

    if run.dataset is None:
        raise Refused(f"run {run.pk}'s dataset was deleted")
    if run.vocabulary is None and any(e.get("class_id") for e in run.vocabulary_snapshot or []):
        raise Refused(f"run {run.pk}'s vocabulary was deleted")
    new = create_run(user=user, dataset=run.dataset, vocabulary=run.vocabulary, profile=run.profile,
                     overrides=run.settings or {}, limit=run.limit, kind=run.kind)
    set_run_label(new, name=f"re-run of {run.name or f'run {run.pk}'}", notes="")
    return new


def changed_settings(run: Run) -> str:
    """The run's settings that differ from its profile's defaults, as override lines (for the clone form)."""


    defaults = flatten(build_config(run.profile).to_dict())
    lines = []
    for key, value in sorted(flatten(run.settings or {}).items()):
        default = defaults.get(key)
        if isinstance(default, tuple):
            default = list(default)
        if key in defaults and value != default:
            lines.append(f"{key}={value if isinstance(value, str) else json.dumps(value)}")
    return "\n".join(lines)
