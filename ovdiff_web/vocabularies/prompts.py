"""The generator's prompt for a class: the profile's template around the class text (docs/METHOD.md#support-sampling:
"A good photo of a {}"). The dashboard shows the template around the prompt field so no one types it twice."""
from __future__ import annotations

from django.conf import settings
from ovdiff_web.common.engine_bridge import build_config


def prompt_template(profile: str | None = None) -> str:

    return build_config(profile or settings.OVDIFF_PROFILE).support.prompt_template


def template_parts(profile: str | None = None) -> tuple[str, str]:
    """(text before, text after) the class text in the template, e.g. ("A good photo of a", "")."""
    before, _, after = prompt_template(profile).partition("{}")
    return before.strip(), after.strip()


def generator_prompt(text: str, profile: str | None = None) -> str:
    """The exact prompt the generator receives for class text ``text``."""
    return prompt_template(profile).format(text.strip())
