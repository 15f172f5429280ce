"""Vocabulary editing: bulk class creation labelled by the engine's labeller, person overrides with
optimistic locking (``expected_version``) so two editors never silently overwrite each other."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from ovdiff_web.accounts.audit import record
from ovdiff_web.vocabularies.models import LabelSource, Vocabulary, VocabularyClass
from ovdiff_web.vocabularies.prompts import dataset_class_prompts
from engine.segment.labeller import label_class as engine_label
from ovdiff_web.accounts.quotas import QuotaExceeded, check_class_count
from ovdiff_web.common.errors import Conflict


MAX_NAME = 200  # VocabularyClass.name's column length


class VersionConflict(Conflict):
    """The row changed since the client read it; ``current`` is the version now stored."""

    code = "version_conflict"

    def __init__(self, current: int) -> None:
        super().__init__(f"version conflict: the class is now at class version {current} (expected_version is the "
                         "class version, not the support version; the class page shows both)")
        self.current = current


def label_class(name: str, table: str = "") -> tuple[bool, str]:
    """(is_stuff, why) from the engine's offline thing/stuff labeller (``table``: the thing/stuff table it tries
    first, e.g. a dataset's own)."""

    result = engine_label(name, table or None)
    return result.label == "stuff", "; ".join(x for x in (result.source, result.note) if x)


@dataclass(frozen=True)
class DatasetClasses:
    """What ``engine.evaluation.evaluate.dataset_classes`` reads of a ``SegDataset``: a registered dataset's
    classes without opening its files (the row holds what the engine's reader found at ingest)."""

    class_names: list[str]
    prompts: list[str]
    has_background: bool


def snapshot_from_dataset(dataset: Any, config: Any, prompts: list[str] | None = None) -> list[dict]:
    """A vocabulary snapshot straight from a registered dataset's classes (when a run names no vocabulary), made by
    the engine function ``python -m engine evaluate`` uses (``dataset_classes``) with the profile's thing/stuff table
    (``config.segment.thing_stuff_table``) and the prompts the engine's readers give those class names
    (``dataset_class_prompts``, the profile's ``segment.class_prompts``): every class gets the CLI's thing/stuff label and prompt under every profile
    (``tests/service/test_one_thing_stuff_rule.py`` runs the CLI to check). ``label_source`` says where the label
    came from: "dataset" (the thing/stuff table the profile names) or "labeller". ``prompts``: those prompts when the
    caller has them already."""
    from engine.evaluation.evaluate import dataset_classes

    table = config.segment.thing_stuff_table
    names = list(dataset.class_names)
    prompts = prompts if prompts is not None else dataset_class_prompts(dataset.format, names, config)
    classes = dataset_classes(DatasetClasses(names, prompts, dataset.has_background),  # type: ignore[arg-type]
                              table=table)
    return [{"name": c.name, "prompt": c.prompt if c.prompt and c.prompt != c.name else "", "is_stuff": c.is_stuff,
             "label_source": "dataset" if table else "labeller", "user_support_dir": "", "class_id": None}
            for c in classes]


def parse_names(text_or_list: str | Iterable[str]) -> list[str]:
    """Names from pasted text (one per line or comma separated) or a list; blanks and repeats dropped."""
    items = text_or_list.replace(",", "\n").splitlines() if isinstance(text_or_list, str) else list(text_or_list)
    seen: set[str] = set()
    names: list[str] = []
    for raw in items:
        name = " ".join(str(raw).split())
        if name and name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    return names


def new_vocabulary_names(text_or_list: str | Iterable[str]) -> list[str]:
    """The class names a vocabulary is created with, checked: ``ValueError`` naming the problem when the list is
    empty, holds a blank entry or repeats a name (ignoring case and spacing); never merged or dropped silently.
    Pasted text: one name per line or comma separated; empty lines are ignored, empty comma entries are not."""
    if isinstance(text_or_list, str):
        items = [part for line in text_or_list.splitlines() if line.strip() for part in line.split(",")]
    else:
        items = list(text_or_list)
        if any(not isinstance(x, str) for x in items):
            raise ValueError("each class name must be a string")
    if not items:
        raise ValueError("give at least one class name (a vocabulary with no classes cannot be used)")
    if not any(str(x).strip() for x in items):
        raise ValueError("the class names are all blank: give at least one class name")
    names: list[str] = []
    seen: dict[str, str] = {}
    for position, raw in enumerate(items, start=1):
        name = " ".join(raw.split())
        if not name:
            raise ValueError(f"class name {position} is blank: remove the empty entry")
        if len(name) > MAX_NAME:
            raise ValueError(f"class name {position} is too long ({MAX_NAME} characters at most): {name[:40]}…")
        if name.lower() in seen:
            raise ValueError(f"{name!r} is listed twice (names are compared ignoring case, first as "
                             f"{seen[name.lower()]!r}): give each class once")
        seen[name.lower()] = name
        names.append(name)
    return names


def add_classes(vocabulary: Vocabulary, names: Iterable[str], user: Any = None,
                initial: bool = False, table: str = "") -> tuple[list[VocabularyClass], list[str]]:
    """Create classes for new names (labeller decides thing/stuff); returns (created, already present).
    ``initial``: the classes a vocabulary is created with, so it stays at version 1 (no one saw another).
    ``table``: a dataset's own thing/stuff table decides first; a class found there has ``label_source``
    "dataset" (the labeller's rules only for names it lacks).

    ``quotas.QuotaExceeded`` (nothing created) when the vocabulary would exceed its class limit."""

    existing = {n.lower() for n in vocabulary.classes.values_list("name", flat=True)}
    wanted = parse_names(names)
    too_long = [n for n in wanted if len(n) > MAX_NAME]
    if too_long:
        raise QuotaExceeded(f"a class name holds at most {MAX_NAME} characters: {too_long[0][:40]}…",
                            field="names", status=400)
    check_class_count(vocabulary, sum(1 for n in wanted if n.lower() not in existing), user)
    created: list[VocabularyClass] = []
    skipped: list[str] = []
    with transaction.atomic():
        start = (vocabulary.classes.aggregate(m=Max("order"))["m"] or 0) + 1
        for name in wanted:
            if name.lower() in existing:
                skipped.append(name)
                continue
            is_stuff, note = label_class(name, table)
            source = LabelSource.DATASET if table and note.startswith(f"table:{table}") else LabelSource.LABELLER
            try:
                with transaction.atomic():  # a savepoint: a parallel add of the same name only skips this one
                    created.append(VocabularyClass.objects.create(
                        vocabulary=vocabulary, name=name, is_stuff=is_stuff, label_source=source,
                        label_note=note[:500], order=start + len(created)))
            except IntegrityError:
                skipped.append(name)
                continue
            existing.add(name.lower())
        if created:
            from_version = vocabulary.version
            if not initial:
                vocabulary.bump_version()
            record(user, vocabulary, "add_classes", {"classes": [[], [c.name for c in created]]}, from_version)
    return created, skipped


def set_label(cls: VocabularyClass, *, is_stuff: bool, user: Any, expected_version: int | None = None) -> VocabularyClass:
    """A person's thing/stuff decision: records who and when; compare-and-swap on ``version``."""
    now = timezone.now()
    old = cls.is_stuff
    query = VocabularyClass.objects.filter(pk=cls.pk)
    if expected_version is not None:
        query = query.filter(version=expected_version)
    updated = query.update(is_stuff=is_stuff, label_source=LabelSource.PERSON, label_changed_by=user,
                           label_changed_at=now, version=F("version") + 1)
    if not updated:
        current = VocabularyClass.objects.values_list("version", flat=True).get(pk=cls.pk)
        raise VersionConflict(current)
    cls.vocabulary.bump_version()
    vocab_from = cls.vocabulary.version - 1
    cls.refresh_from_db()
    record(user, cls, "set_label", {"is_stuff": [old, is_stuff]}, from_version=cls.version - 1)
    if old != is_stuff:
        record_flip(cls, old, user=user, at=now, vocabulary_from_version=vocab_from)
        cls.refresh_from_db(fields=["label_note"])
    return cls


def _kind(is_stuff: bool) -> str:
    return "stuff" if is_stuff else "thing"


def record_flip(cls: VocabularyClass, old: bool, *, user: Any, at: Any, vocabulary_from_version: int) -> None:
    """After a person flipped ``cls`` between thing and stuff: ``label_note`` says so (no longer the labeller's
    reason) and the vocabulary's history records the flip, as its version moved."""
    who = getattr(user, "get_username", lambda: "")() or "someone"
    note = f"set to {_kind(cls.is_stuff)} by user {who} on {at:%Y-%m-%d %H:%M} UTC (was {_kind(old)})"
    VocabularyClass.objects.filter(pk=cls.pk).update(label_note=note[:500])
    record(user, cls.vocabulary, "set_label", {f"classes.{cls.name}.is_stuff": [old, cls.is_stuff]},
           from_version=vocabulary_from_version)


def create_class(vocabulary: Vocabulary, **fields: Any) -> VocabularyClass:
    """One class; labeller label unless the caller set ``is_stuff`` (then the caller is the source)."""
    name = fields.pop("name")
    if "is_stuff" in fields and fields["is_stuff"] is not None:
        fields.setdefault("label_source", LabelSource.PERSON)
    else:
        is_stuff, note = label_class(name)
        fields.update(is_stuff=is_stuff, label_note=note[:500], label_source=LabelSource.LABELLER)

    check_class_count(vocabulary, 1)
    fields.setdefault("order", (vocabulary.classes.aggregate(m=Max("order"))["m"] or 0) + 1)
    try:
        with transaction.atomic():
            obj = VocabularyClass.objects.create(vocabulary=vocabulary, name=name, **fields)
    except IntegrityError:
        raise ValueError(f"class {name!r} already exists in {vocabulary.name!r}") from None
    vocabulary.bump_version()
    return obj
