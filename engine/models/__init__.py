"""Model roles (generator, dino, clip): a registry that loads each once, plus random-weight builders."""
from __future__ import annotations

from pathlib import Path

from engine.models.loading import ROLE_SOURCES
from engine.models.registry import ROLES, ModelRegistry

__all__ = ["ModelRegistry", "ROLES", "ROLE_SOURCES", "save_tiny_models"]


def save_tiny_models(dirpath: str | Path) -> dict[str, Path]:
    """Save the tiny models in Hugging Face format, one directory per role (+ ``dinov2``).

    Proves (in tests) and documents the layout ``ModelRegistry`` loads from a local directory:
    ``generator/`` a diffusers pipeline, ``dino/`` a ViTModel, ``dinov2/`` a Dinov2Model, ``clip/`` CLIPModel +
    tokenizer.
    """
    from engine.models import builders

    root = Path(dirpath)
    out = {name: root / name for name in ("generator", "dino", "dinov2", "clip")}
    builders.tiny_generator().save_pretrained(out["generator"])
    builders.tiny_dino().save_pretrained(out["dino"])
    builders.tiny_dinov2().save_pretrained(out["dinov2"])
    model, tokenizer = builders.tiny_clip()
    model.save_pretrained(out["clip"])
    tokenizer.save_pretrained(out["clip"])
    return out
