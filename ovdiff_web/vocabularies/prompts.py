"""What the generator receives for a class: the profile's prompt template around the class text
(docs/METHOD.md#support-sampling: "A good photo of a {}"), and a registered dataset's class prompts under the profile's ``segment.class_prompts``.
Both are the engine's functions (``engine.support.prompting.support_prompt``,
``engine.evaluation.datasets.prompts.dataset_prompts``), so the dashboard and ``python -m engine`` agree. The
dashboard shows the template around the prompt field so no one types it twice."""
from __future__ import annotations

from typing import Any, Sequence

from django.conf import settings

from engine.support.prompting import support_prompt
from ovdiff_web.common.engine_bridge import build_config


def prompt_template(profile: str | None = None) -> str:

    return build_config(profile or settings.OVDIFF_PROFILE).support.prompt_template


def template_parts(profile: str | None = None) -> tuple[str, str]:
    """(text before, text after) the class text in the template, e.g. ("A good photo of a", "")."""
    before, _, after = prompt_template(profile).partition("{}")
    return before.strip(), after.strip()


def generator_prompt(text: str, profile: str | None = None) -> str:
    """The exact prompt the generator receives for class text ``text``."""
    return support_prompt(text, build_config(profile or settings.OVDIFF_PROFILE).support)


def dataset_class_prompts(fmt: str, class_names: Sequence[str], config: Any) -> list[str]:
    """The prompt of each class of a registered dataset of format ``fmt`` (a ``Dataset`` row's ``format`` and
    ``class_names``) under ``config`` (the run's ``OVDiffConfig``): the CLI's ``SegDataset.prompts``."""
    from engine.evaluation.datasets.prompts import dataset_prompts

    return dataset_prompts(fmt, list(class_names), config.segment.class_prompts)
