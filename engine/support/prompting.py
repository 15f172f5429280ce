"""The generator's prompt for a class text (no model library: the web process shows it on the class pages)."""
from __future__ import annotations

from engine.config import SupportConfig


def support_prompt(class_text: str, cfg: SupportConfig) -> str:
    """``cfg.prompt_template`` around the stripped class text, e.g. "A good photo of a red car"."""
    return cfg.prompt_template.format(class_text.strip())
