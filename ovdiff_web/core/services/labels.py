"""Vocabulary snapshots of a run: from a dataset's classes, and back to engine ``ClassSpec``s."""
from __future__ import annotations

from typing import Any, Sequence


def snapshot_from_dataset(class_names: Sequence[str], prompts: Sequence[str], has_background: bool) -> list[dict]:
    """A vocabulary snapshot straight from a dataset's classes (when a run names no vocabulary)."""
    from ovdiff_web.core.services.vocab import label_class

    out = []
    for i, (name, prompt) in enumerate(zip(class_names, prompts)):
        if has_background and i == 0:
            continue
        is_stuff, _ = label_class(prompt)
        out.append({"name": name, "prompt": prompt if prompt != name else "", "is_stuff": is_stuff,
                    "label_source": "labeller", "user_support_dir": "", "class_id": None})
    return out


def spec_from_snapshot(entry: dict[str, Any]) -> Any:
    """The engine ``ClassSpec`` for one snapshot entry."""
    from django.conf import settings

    from engine.types import ClassSpec

    support = str(settings.MEDIA_ROOT / entry["user_support_dir"]) if entry.get("user_support_dir") else None
    return ClassSpec(name=entry["name"], prompt=entry.get("prompt") or None, is_stuff=bool(entry.get("is_stuff")),
                     user_support_dir=support)
