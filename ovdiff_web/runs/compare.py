"""What the compare page shows beyond the settings diff: per-class rows, and what makes the runs not directly
comparable (other datasets, other images, other classes). An IoU depends on the images scored and on which other
classes compete for each pixel, so numbers side by side mislead unless those are the same."""
from __future__ import annotations

from typing import Any, Sequence

from ovdiff_web.runs.models import Run
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
