"""Offline thing/stuff labeller for the stuff filter (docs/METHOD.md#thing-and-stuff-labels).

The paper asked ChatGPT; here the labels come from a reviewable table, ``engine/data/thing_stuff.json``, holding
every class of PASCAL VOC (20), Pascal Context (59), COCO-Object (80), COCO-Stuff (171, COCO's own split) and
ADE20K (150, the ADE20K panoptic isthing flags), with the paper's admitted errors corrected (glass, blanket,
trade name -> thing; land, sand, snow, ground -> stuff). The JSON says where each table comes from.

Unknown names go through a documented rule chain, so a user's free-text class still gets a label:

1. normalise: lowercase, "_"/"-" -> space, whitespace collapsed, the first comma-separated synonym kept;
2. table lookup (``dataset``'s table first when given, then the JSON's lookup order) of the name, its synonym
   (e.g. "tv monitor" -> "tvmonitor", "trash can" -> "ashcan") and its candidate singulars ("buses" -> "bus");
   source "table:<dataset>";
3. head noun: the same lookup for the last word ("red car" -> "car"); source "rule:head-noun";
4. stuff words: the head noun is a stuff word (sky, water, grass, ...) or ends in a stuff suffix
   ("playground" -> ...ground); source "rule:stuff-keyword";
5. otherwise "thing", source "rule:default".
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

DATA_PATH = Path(__file__).parent.parent / "data" / "thing_stuff.json"


@dataclass(frozen=True)
class ThingStuffLabel:
    label: Literal["thing", "stuff"]
    source: str  # "table:<dataset>" or "rule:<which>"
    note: str = ""


def normalise(name: str) -> str:
    """lowercase, separators to spaces, first comma-separated synonym, single spaces."""
    first = name.split(",")[0]
    return " ".join(first.lower().replace("_", " ").replace("-", " ").split())


def singular_forms(word: str) -> list[str]:
    """Candidate singulars of a simple English plural, most likely first ("houses" -> house, hous;
    "buses" -> buse, bus; "ponies" -> pony); words ending in -ss/-us/-is are left alone."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return []
    if word.endswith("ies") and len(word) > 4:
        return [word[:-3] + "y", word[:-1]]
    if word.endswith("es"):
        return [word[:-1], word[:-2]]
    return [word[:-1]]


def singular(word: str) -> str:
    """The most likely singular (the word itself if it does not look plural)."""
    forms = singular_forms(word)
    return forms[0] if forms else word


@lru_cache(maxsize=1)
def load_table() -> dict[str, Any]:
    """The parsed JSON with every table's keys normalised."""
    data = json.loads(DATA_PATH.read_text())
    data["tables"] = {ds: {normalise(k): v for k, v in t.items()} for ds, t in data["tables"].items()}
    data["synonyms"] = {normalise(k): normalise(v) for k, v in data["synonyms"].items()}
    return data


def dataset_classes(dataset: str) -> list[str]:
    """Class names of one table, in the JSON's order (unnormalised spelling)."""
    return list(json.loads(DATA_PATH.read_text())["tables"][dataset])


def _variants(name: str, synonyms: dict[str, str]) -> list[str]:
    out = [name, synonyms.get(name, "")]
    for form in singular_forms(name):
        out += [form, synonyms.get(form, "")]
    return [v for i, v in enumerate(out) if v and v not in out[:i]]


def _lookup(name: str, dataset: str | None, data: dict[str, Any]) -> tuple[str, str, str] | None:
    """(label, dataset, matched spelling) from the tables, or None."""
    order = list(data["lookup_order"])
    if dataset is not None:
        if dataset not in data["tables"]:
            raise KeyError(f"unknown thing/stuff table {dataset!r}; known: {', '.join(sorted(data['tables']))}")
        order = [dataset] + [d for d in order if d != dataset]
    for variant in _variants(name, data["synonyms"]):
        for ds in order:
            label = data["tables"][ds].get(variant)
            if label is not None:
                return label, ds, variant
    return None


def label_class(name: str, dataset: str | None = None) -> ThingStuffLabel:
    """Thing or stuff for a class name; ``dataset`` (e.g. "ade20k") prefers that dataset's convention."""
    data = load_table()
    norm = normalise(name)
    if not norm:
        return ThingStuffLabel("thing", "rule:default", "empty name")
    hit = _lookup(norm, dataset, data)
    if hit is not None:
        label, ds, variant = hit
        note = data["notes"].get(f"{ds}/{variant}", "")
        if variant != norm:
            note = f"matched as {variant!r}" + (f"; {note}" if note else "")
        return ThingStuffLabel(label, f"table:{ds}", note)
    head = norm.split()[-1]
    if head != norm:
        hit = _lookup(head, dataset, data)
        if hit is not None:
            label, ds, variant = hit
            return ThingStuffLabel(label, "rule:head-noun", f"head noun {variant!r} in table:{ds}")
    words = {head, *singular_forms(head)}
    if words & set(data["stuff_words"]) or head.endswith(tuple(data["stuff_suffixes"])):
        return ThingStuffLabel("stuff", "rule:stuff-keyword", f"head noun {head!r} names a region")
    return ThingStuffLabel("thing", "rule:default", "not in any table; countable object assumed")
