"""The vocabulary as ``ClassSpec``s: one builder, whatever the classes come from.

Sources: plain class names (CLI ``--classes``, the dashboard's segment page), a dataset's classes
(``dataset_entries``; CLI ``evaluate``, a run without a vocabulary) and a run's stored vocabulary snapshot
(entries with ``name``, ``prompt``, ``is_stuff``, ``user_support_dir``, a support-set ``curation``).
Thing/stuff comes from, in order: an explicit ``stuff`` list, the entry's own ``is_stuff``, the offline labeller
on the class text.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from engine.errors import BadInputError
from engine.segment.labeller import label_class, load_table

if TYPE_CHECKING:
    from engine.types import ClassSpec

Entry = str | Mapping[str, Any]


def dataset_entries(names: Sequence[str], prompts: Sequence[str], has_background: bool) -> list[dict[str, str]]:
    """A dataset's classes as entries (``name``, renamed ``prompt``), its "background" left out."""
    skip = 1 if has_background else 0
    return [{"name": n, "prompt": p} for n, p in zip(list(names)[skip:], list(prompts)[skip:])]


def is_stuff_text(text: str, table: str = "") -> bool:
    """The offline labeller's verdict for a class text (``table``: the thing/stuff table tried first)."""
    return label_class(text, table or None).label == "stuff"


def check_table(table: str) -> None:
    """An unknown ``SegmentConfig.thing_stuff_table`` is a ``BadInputError`` naming the known tables."""
    known = load_table()["tables"]
    if table and table not in known:
        raise BadInputError(f"unknown thing/stuff table; known: {', '.join(sorted(known))}",
                            item="segment.thing_stuff_table")


def class_specs(entries: Sequence[Entry], stuff: Sequence[str] | None = None,
                support_root: str | Path | None = None, table: str = "") -> list["ClassSpec"]:
    """``ClassSpec``s for ``entries`` (names or mappings); ``user_support_dir`` is resolved under
    ``support_root``; the labeller tries thing/stuff ``table`` first. Raises ``BadInputError`` when ``stuff``
    names classes not in ``entries`` or ``table`` is unknown."""
    from engine.support.curation import curation_from_dict
    from engine.types import ClassSpec

    check_table(table)
    items = [{"name": e} if isinstance(e, str) else dict(e) for e in entries]
    stuff_names = None if stuff is None else {s.strip() for s in stuff if s.strip()}
    unknown = (stuff_names or set()) - {i["name"] for i in items}
    if unknown:
        raise BadInputError(f"stuff names classes not in the vocabulary: {', '.join(sorted(unknown))}")
    out = []
    for item in items:
        prompt = item.get("prompt") or None
        if stuff_names is not None:
            is_stuff = item["name"] in stuff_names
        elif item.get("is_stuff") is not None:
            is_stuff = bool(item["is_stuff"])
        else:
            is_stuff = is_stuff_text(prompt or item["name"], table)
        support = item.get("user_support_dir") or None
        if support and support_root is not None:
            support = str(Path(support_root) / support)
        curation = curation_from_dict(item.get("curation"),
                                      dir_root=None if support_root is None else str(support_root))
        out.append(ClassSpec(name=item["name"], prompt=prompt, is_stuff=is_stuff, user_support_dir=support,
                             curation=curation))
    return out
