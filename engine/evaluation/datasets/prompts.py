"""The text a dataset class is generated and pre-filtered with, per profile: ``segment.class_prompts``.

``dataset_prompts(kind, class_names, table)`` is the one function that turns a registered dataset's class names
into prompts; the CLI (``open_dataset(..., class_prompts=...)``) and the service
(``ovdiff_web.vocabularies.prompts.dataset_class_prompts``) both call it.

- ``paper`` (default): ``classes.prompt_for``: the paper's four VOC renames (sec. 6: airplane, table, monitor,
  potted plant) and the project's readability renames of compound or archaic names (ADE ``windowpane`` ->
  "window", COCO ``tv`` -> "television", ...). Unchanged from before this setting existed.
- ``sdov``: the authors' code (karazijal/sdov ``mmdata.py``). A class is prompted with the authors' class name
  (their spelling of the dataset's class, ``SDOV_CLASS_NAMES``), mapped by their ``CLASS_TO_PROMPT``
  (``SDOV_CLASS_TO_PROMPT``), then overridden by ``CLASS_TO_PROMPT_OVERLAY`` (``SDOV_PROMPT_OVERLAY``), which
  ``get_dataset``/``get_data_classes`` apply to every dataset when ``apply_overlay`` is set, as it is by default in
  ``sample_support_set.py`` (``--no-overlay`` unset, used at :73) and ``predict.py`` (:248, used at :274, the
  pre-filter's prompts at :300). The repository wires only VOC; the Context and ADE20K names are those of the
  authors' thing/stuff table (``mmdata.py`` ``CHAT_GPT_REPLY_LONGER``, looked up by class name at
  ``predict.py:306``), which spells Context's classes airplane, plant and monitor and ADE20K's as mmseg does.
  COCO-Object and folder datasets, which the code never read, keep the ``paper`` names with the overlay applied.
"""
from __future__ import annotations

from typing import Sequence

from engine.errors import BadInputError
from engine.evaluation.datasets.classes import clean_name, prompt_for

PROMPT_TABLES: tuple[str, ...] = ("paper", "sdov")

# karazijal/sdov mmdata.py CLASS_TO_PROMPT_OVERLAY: authors' class name -> prompt, for every dataset.
SDOV_PROMPT_OVERLAY: dict[str, str] = {
    "tank": "liquid tank",
    "blind": "window blinds",
    "hood": "cooker hood",
    "ashcan": "wastebin",
    "case": "shop case",
    "keyboard": "computer keyboard",
    "apparel": "clothing",
}
# dataset kind -> {dataset spelling: the authors' class name} where they differ.
SDOV_CLASS_NAMES: dict[str, dict[str, str]] = {
    # mmdata.py PascalVOCDataset.CLASSES ("airplane,  # aeroplane", "table, # diningtable", "monitor, # tvmonitor")
    "voc": {"aeroplane": "airplane", "diningtable": "table", "tvmonitor": "monitor"},
    # mmdata.py CHAT_GPT_REPLY_LONGER: Context's 59 classes in mmseg's order, spelt airplane, plant, monitor
    "context": {"aeroplane": "airplane", "pottedplant": "plant", "tvmonitor": "monitor"},
}
# dataset kind -> {authors' class name: prompt} where the prompt is not the name (mmdata.py CLASS_TO_PROMPT).
SDOV_CLASS_TO_PROMPT: dict[str, dict[str, str]] = {
    "voc": {"pottedplant": "potted plant"},
}
# Kinds whose classes the authors named themselves (the rest keep the paper's names, then the overlay).
SDOV_NAMED_KINDS: tuple[str, ...] = ("voc", "context", "ade20k")


def check_prompt_table(table: str) -> str:
    """``table`` when known, else a ``BadInputError`` naming the setting and the known tables."""
    if table not in PROMPT_TABLES:
        raise BadInputError(f"unknown class prompt table; choose one of {', '.join(PROMPT_TABLES)}",
                            item="segment.class_prompts")
    return table


def sdov_prompt(kind: str, name: str) -> str:
    """The authors' prompt for one class of a dataset of ``kind`` (see the module docstring)."""
    clean = clean_name(name)
    if kind not in SDOV_NAMED_KINDS:
        return SDOV_PROMPT_OVERLAY.get(clean, prompt_for(name))
    own = SDOV_CLASS_NAMES.get(kind, {}).get(clean, clean)
    return SDOV_PROMPT_OVERLAY.get(own, SDOV_CLASS_TO_PROMPT.get(kind, {}).get(own, own))


def dataset_prompts(kind: str, class_names: Sequence[str], table: str = "paper") -> list[str]:
    """The prompt of each class of a dataset of ``kind`` ("voc", "context", "coco_object", "ade20k", "folder")
    under the prompt ``table`` (``segment.class_prompts``); "background" stays "background"."""
    check_prompt_table(table)
    if table == "paper":
        return [prompt_for(n) for n in class_names]
    return [n if n == "background" else sdov_prompt(kind, n) for n in class_names]
