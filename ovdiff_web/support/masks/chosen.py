"""The support masks a run's vocabulary chose (``masks.user_fg_rule="vocabulary"``): for a user image whose
proposed masks leave the class ambiguous seen alone (a table crop with a cup in it), the worker takes the
candidate that fits the whole vocabulary best. The class page shows the mask chosen alone; a run's page lists
the images where the run used another one, each with both masks side by side."""
from __future__ import annotations

from typing import Any, Iterable

from ovdiff_web.support.curation import CANDIDATE, candidate_index, describe_candidate
from ovdiff_web.support.masks.thumbnails import candidate_thumb
from ovdiff_web.support.models import SupportImage, SupportSet


def chosen_rows(sets: Iterable[SupportSet], choices: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """One row per support image of ``sets`` whose mask ``choices`` (class name -> {image id: "candidate:K"},
    as a run records them) changed: the class, the image row, what was chosen and its thumbnail. Choices for an
    image no longer in the sets (a set since deleted) are left out."""
    wanted = {(name, image_id): candidate_index(choice) for name, per in (choices or {}).items()
              for image_id, choice in per.items() if isinstance(choice, str) and candidate_index(choice) is not None}
    if not wanted:
        return []
    images = SupportImage.objects.filter(support_set__in=list(sets), content_id__in={i for _, i in wanted},
                                         excluded="").select_related("support_set").order_by("support_set__class_name",
                                                                                             "index")
    rows, seen = [], set()
    for image in images:
        key = (image.support_set.class_name, image.content_id)
        if key not in wanted or key in seen:
            continue
        seen.add(key)
        k = wanted[key]
        rows.append({"class_name": key[0], "image": image, "candidate": k, "choice": f"{CANDIDATE}{k}",
                     "described": describe_candidate(k), "thumb": candidate_thumb(image, k)})
    return rows
