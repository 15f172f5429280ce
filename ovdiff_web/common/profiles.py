"""The model profiles a user may choose (``engine.profiles``), as form / model choices."""
from __future__ import annotations

from typing import Any

from engine.profiles import is_random_profile, random_weights_note

PROFILE_CHOICES = [("tiny", "tiny (random weights)"), ("paper", "paper"), ("paper-shape", "paper-shape (random weights)"),
                   ("sdov", "sdov (the authors' code's configuration: docs/SDOV_PROFILE.md)"),
                   ("dinov2-small", "dinov2-small (few-shot: real DINOv2 features, your support images)")]


def random_weights_fields(profile: str) -> dict[str, Any]:
    """``{"random_weights": True, "random_weights_note": ...}`` for random-weight profiles, else ``{}``."""
    if not is_random_profile(profile):
        return {}
    return {"random_weights": True, "random_weights_note": random_weights_note(profile)}
