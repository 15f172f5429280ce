"""Vocabulary edits the dashboard makes beyond the API's: renaming a prompt with optimistic locking and
importing a dataset's classes into a vocabulary.
"""
from __future__ import annotations

from typing import Any

from django.db.models import F

from ovdiff_web.vocabularies.models import VocabularyClass
from ovdiff_web.vocabularies.services import VersionConflict
from ovdiff_web.accounts.audit import record
from ovdiff_web.vocabularies.services import add_classes
from engine.segment.labeller import load_table


def set_prompt(cls: VocabularyClass, *, prompt: str, expected_version: int, user: Any = None) -> VocabularyClass:
    """Rename the generator prompt; compare-and-swap on ``version`` like ``vocab.set_label``."""

    prompt = " ".join(prompt.split())
    if prompt == cls.name:
        prompt = ""
    updated = VocabularyClass.objects.filter(pk=cls.pk, version=expected_version).update(
        prompt=prompt, version=F("version") + 1)
    if not updated:
        raise VersionConflict(VocabularyClass.objects.values_list("version", flat=True).get(pk=cls.pk))
    cls.vocabulary.bump_version()
    old = cls.prompt
    cls.refresh_from_db()

    record(user, cls, "set_prompt", {"prompt": [old, cls.prompt]}, from_version=expected_version)
    return cls


def import_dataset_classes(vocabulary: Any, dataset: Any, user: Any = None,
                           initial: bool = False) -> tuple[list[VocabularyClass], list[str]]:
    """Add a dataset's classes (not its background) with the dataset's generator prompts, labelled thing/stuff by
    the dataset's own table when the engine has one for its format (VOC, Context, COCO-Object, ADE20K)."""

    names = list(dataset.class_names or [])
    prompts = list(dataset.prompts or names)
    start = 1 if dataset.has_background and names and names[0] == "background" else 0
    prompt_of = {n.lower(): p for n, p in zip(names[start:], prompts[start:])}
    table = dataset.format if dataset.format in load_table()["tables"] else ""
    created, skipped = add_classes(vocabulary, names[start:], user=user, initial=initial, table=table)
    for cls in created:
        prompt = prompt_of.get(cls.name.lower(), "")
        if prompt and prompt != cls.name:
            VocabularyClass.objects.filter(pk=cls.pk).update(prompt=prompt)
            cls.prompt = prompt
    return created, skipped
