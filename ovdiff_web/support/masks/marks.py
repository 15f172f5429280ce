"""Where each reviewed support image's foreground comes from, as the class page and the API say it: "given by
user" (uploaded with its mask, or a dataset's ground truth), "proposed by MaskCut" (the proposer of the profile
the set was built with), a proposed mask a person chose, or the attribution threshold."""
from __future__ import annotations

from typing import Any

from ovdiff_web.common.engine_bridge import build_config
from ovdiff_web.support.curation import candidate_index, describe_candidate
from ovdiff_web.support.masks.store import given_masks
from ovdiff_web.support.masks.thumbnails import proposal_thumbs

PROPOSERS = {"maskcut": "MaskCut", "cutler": "CutLER", "attribution": "the attribution map"}
GIVEN = "given by user"


def proposer_label(profile: str) -> str:
    try:
        name = build_config(profile).masks.proposer
    except Exception:  # noqa: BLE001 - an old set of a profile this service no longer has
        return "the mask proposer"
    return PROPOSERS.get(name, name)


def annotate(cls: Any, items: list[dict[str, Any]], shown: Any, *, thumbs: bool = False) -> list[dict[str, Any]]:
    """Add to each review item (``curation.review_images``) ``mask_source`` ("given" / "proposed" / "chosen" /
    "attribution"), ``mask_text`` (what the page shows), ``given_from`` and, with ``thumbs``, ``thumbs``: one
    (choice, thumbnail path, chosen) per proposed mask."""
    if not items:
        return items
    given = given_masks(cls.pk, [cls.user_support_dir])
    proposer = proposer_label(shown.profile) if shown is not None else "the mask proposer"
    for item in items:
        image, choice = item["image"], item.get("mask_choice", "")
        origin = given.get(image.content_id, "")
        if origin and not choice:
            source, text = "given", GIVEN
        elif choice == "attribution":
            source, text = "attribution", "attribution threshold (chosen)"
        elif choice.startswith("painted:"):
            source, text = "edited", "edited mask (painted by hand)"
        elif candidate_index(choice) is not None:
            source, text = "chosen", f"{describe_candidate(candidate_index(choice))} (kept from a run)"
        elif choice:
            source, text = "chosen", f"proposed mask {choice.split(':', 1)[-1]} (chosen)"
        else:
            source, text = "proposed", f"proposed by {proposer}"
        item.update(mask_source=source, mask_text=text, given_from=origin)
        if thumbs:
            paths = proposal_thumbs(image)
            item["thumbs"] = [(f"instance:{j}", path, choice == f"instance:{j}") for j, path in enumerate(paths)]
    return items
