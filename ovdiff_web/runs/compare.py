"""What the compare page shows beyond the settings diff: per-class rows, and what makes the runs not directly
comparable (other datasets, other images, other classes). An IoU depends on the images scored and on which other
classes compete for each pixel, so numbers side by side mislead unless those are the same."""
from __future__ import annotations

from typing import Any, Sequence

from ovdiff_web.runs.models import ImageResult, Run
from ovdiff_web.runs import report as run_report

MAX_NAMED = 8  # classes named per warning before "and N more"


def class_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per class of any run (first-seen order): IoU per run, best, spread, last - first (the compare page
    passes the runs oldest first, so newer - older), and the
    support-set version each run used (``curated`` when they differ)."""
    names: list[str] = []
    for run in runs:
        names.extend(n for n in run.class_names or [] if n not in names)
    versions = [run_report.support_versions(r) for r in runs]
    rows = []
    for name in names:
        values = [(r.per_class_iou or {}).get(name) for r in runs]
        present = [v for v in values if v is not None]
        used = [v.get(name) for v in versions]
        change = values[-1] - values[0] if len(values) > 1 and None not in (values[0], values[-1]) else None
        rows.append({"name": name, "values": values, "best": max(present) if len(present) > 1 else None,
                     "versions": used, "curated": len({u for u in used if u is not None}) > 1, "change": change,
                     "spread": (max(present) - min(present)) if len(present) > 1 else None})
    return rows


def mismatches(runs: Sequence[Run]) -> list[str]:
    """Sentences naming what differs between the runs' datasets, scored images and class lists (empty: same)."""
    if len(runs) < 2:
        return []
    out = []
    if len({r.dataset_id for r in runs}) > 1:
        out.append("Different datasets: " + "; ".join(
            f"#{r.pk} on {r.dataset.name!r}" if r.dataset else f"#{r.pk} on a deleted dataset" for r in runs) + ".")
    image_sets = [frozenset(r.image_ids or []) for r in runs]
    if len(set(image_sets)) > 1:
        counts = [len(s) for s in image_sets]
        if len(set(counts)) > 1:
            out.append("Different numbers of images: " + "; ".join(
                f"#{r.pk}: {n} image{'s' if n != 1 else ''}{f' (limit {r.limit})' if r.limit else ''}"
                for r, n in zip(runs, counts)) + ".")
        else:
            out.append(f"The same number of images ({counts[0]}) but not the same images.")
    vocabularies = [vocabulary_names(r) for r in runs]
    if len({frozenset(v) for v in vocabularies}) > 1:
        common = set.intersection(*(set(v) for v in vocabularies))
        parts = []
        for run, names in zip(runs, vocabularies):
            only = [n for n in names if n not in common]
            if only:
                parts.append(f"#{run.pk} also has {_named(only)}")
        out.append("Different vocabularies (classes compete for pixels, so shared classes' IoU differs too): "
                   + "; ".join(parts) + ".")
    return out


def vocabulary_names(run: Run) -> list[str]:
    """The classes the run segmented (its vocabulary snapshot; ``class_names`` are the dataset's label names)."""
    return [e.get("name", "") for e in run.vocabulary_snapshot or []] or list(run.class_names or [])


def _named(names: list[str]) -> str:
    more = len(names) - MAX_NAMED
    return ", ".join(names[:MAX_NAMED]) + (f" and {more} more" if more > 0 else "")


# -- one image in every run: side by side, and the images whose IoU changed most ------------------------------------

MAX_CHANGES = 20  # images listed under "largest IoU change"
MAX_PICKED = 2000  # images offered in the picker


def image_table(runs: Sequence[Run]) -> dict[str, dict[int, dict[str, Any]]]:
    """image id -> {run pk: {"pk": result pk, "iou": per-image IoU}} over the runs' results; empty when the runs
    read different datasets (the same id would name other images)."""
    if len(runs) < 2 or len({r.dataset_id for r in runs}) > 1 or runs[0].dataset_id is None:
        return {}
    table: dict[str, dict[int, dict[str, Any]]] = {}
    rows = ImageResult.objects.filter(run__in=list(runs)).values_list("run_id", "image_id", "pk", "iou")
    for run_id, image_id, pk, iou in rows:
        table.setdefault(image_id, {})[run_id] = {"pk": pk, "iou": iou}
    return table


def in_all(runs: Sequence[Run], table: dict[str, dict[int, dict[str, Any]]]) -> list[str]:
    """Image ids every run scored, by name (at most ``MAX_PICKED``)."""
    return sorted(i for i, per_run in table.items() if all(r.pk in per_run for r in runs))[:MAX_PICKED]


def largest_changes(runs: Sequence[Run], table: dict[str, dict[int, dict[str, Any]]],
                    limit: int = MAX_CHANGES) -> list[dict[str, Any]]:
    """Images scored by the oldest and the newest run, largest |newer - older| per-image IoU change first."""
    if len(runs) < 2:
        return []
    first, last = runs[0].pk, runs[-1].pk
    rows = []
    for image_id, per_run in table.items():
        old, new = (per_run.get(first) or {}).get("iou"), (per_run.get(last) or {}).get("iou")
        if old is not None and new is not None:
            rows.append({"image_id": image_id, "older": old, "newer": new, "change": new - old})
    rows.sort(key=lambda r: (-abs(r["change"]), r["image_id"]))
    return rows[:limit]


def side_by_side(runs: Sequence[Run], table: dict[str, dict[int, dict[str, Any]]],
                 image_id: str) -> list[dict[str, Any]]:
    """One panel per run (oldest first) that scored ``image_id``: the run, its result pk and per-image IoU."""
    per_run = table.get(image_id) or {}
    return [{"run": r, "pk": per_run[r.pk]["pk"], "iou": per_run[r.pk]["iou"]} for r in runs if r.pk in per_run]


def panel_change(panels: list[dict[str, Any]]) -> float | None:
    """Newest minus oldest per-image IoU of ``side_by_side``'s panels (None: fewer than two, or an IoU missing)."""
    if len(panels) < 2 or panels[0]["iou"] is None or panels[-1]["iou"] is None:
        return None
    return panels[-1]["iou"] - panels[0]["iou"]
