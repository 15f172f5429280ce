"""Class prompts per profile: ``sdov`` prompts each dataset class as the authors' code does, ``paper`` is unchanged.

The expected values below are written out from karazijal/sdov ``mmdata.py`` (``PascalVOCDataset.CLASSES`` and
``CLASS_TO_PROMPT``, ``CLASS_TO_PROMPT_OVERLAY`` applied by ``get_dataset(apply_overlay=True)``, and the class
names of ``CHAT_GPT_REPLY_LONGER``), not from the engine's tables.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.errors import BadInputError
from engine.evaluation.datasets import (
    ADE150_CLASSES,
    COCO_OBJECT_CLASSES,
    CONTEXT59_CLASSES,
    VOC_CLASSES,
    dataset_prompts,
    prompts_for,
)
from engine.evaluation.datasets.base import Sample, SegDataset
from engine.evaluation.evaluate import dataset_classes
from engine.profiles import default_config

# Every class whose sdov prompt differs from the dataset's class name, with the authors' prompt.
SDOV_DIFFERENT = {
    "voc": {"aeroplane": "airplane", "diningtable": "table", "pottedplant": "potted plant", "tvmonitor": "monitor"},
    "context": {"aeroplane": "airplane", "keyboard": "computer keyboard", "pottedplant": "plant",
                "tvmonitor": "monitor"},
    "ade20k": {"tank": "liquid tank", "blind": "window blinds", "hood": "cooker hood", "ashcan": "wastebin",
               "case": "shop case", "apparel": "clothing"},
    # not in the authors' code: the paper's names, then the overlay (keyboard)
    "coco_object": {"tv": "television", "hair drier": "hair dryer", "keyboard": "computer keyboard"},
}
NAMES = {"voc": VOC_CLASSES, "context": CONTEXT59_CLASSES, "ade20k": ADE150_CLASSES,
         "coco_object": COCO_OBJECT_CLASSES}
# The authors' thing/stuff verdicts (mmdata.py CHAT_GPT_REPLY_LONGER) for the classes the overlay renames.
SDOV_IS_STUFF = {"tank": False, "blind": False, "hood": False, "ashcan": False, "case": False, "apparel": False,
                 "keyboard": False, "pottedplant": False}


@pytest.mark.parametrize("kind", sorted(SDOV_DIFFERENT))
def test_sdov_prompts_differ_from_the_names_exactly_where_the_authors_do(kind):
    names = NAMES[kind]
    prompts = dataset_prompts(kind, names, default_config("sdov").segment.class_prompts)
    assert {n: p for n, p in zip(names, prompts) if p != n} == SDOV_DIFFERENT[kind]


def test_paper_prompts_are_unchanged():
    assert default_config("paper").segment.class_prompts == "paper"
    for kind, names in NAMES.items():
        assert dataset_prompts(kind, names, "paper") == prompts_for(names)
    ade = dict(zip(ADE150_CLASSES, dataset_prompts("ade20k", ADE150_CLASSES, "paper")))
    assert ade["windowpane"] == "window" and ade["blind"] == "blind" and ade["ashcan"] == "trash can"
    context = dict(zip(CONTEXT59_CLASSES, dataset_prompts("context", CONTEXT59_CLASSES, "paper")))
    assert context["pottedplant"] == "potted plant" and context["keyboard"] == "keyboard"


def test_background_and_unknown_table():
    assert dataset_prompts("context", ["background", "aeroplane"], "sdov") == ["background", "airplane"]
    assert dataset_prompts("folder", ["keyboard", "tv"], "sdov") == ["computer keyboard", "television"]
    with pytest.raises(BadInputError, match="class_prompts"):
        dataset_prompts("voc", ["cat"], "nope")


def test_segdataset_takes_the_profiles_prompts_and_labels_thing_stuff_by_class_name():
    sample = Sample("x", Path("x.jpg"), Path("x.png"))
    sdov = default_config("sdov").segment
    ds = SegDataset("ade150", ["wall", "blind", "tank", "apparel", "ashcan"], [sample], has_background=False,
                    kind="ade20k", class_prompts=sdov.class_prompts, check_files=False)
    assert ds.prompts == ["wall", "window blinds", "liquid tank", "clothing", "wastebin"]
    classes = {c.name: c for c in dataset_classes(ds, table=sdov.thing_stuff_table)}
    assert classes["blind"].text == "window blinds"
    # "window blinds" read as a prompt would match COCO-Stuff's "window-blind" (stuff); the code reads IS_STUFF["blind"]
    assert {n: classes[n].is_stuff for n in ("blind", "tank", "apparel", "ashcan")} == \
        {n: SDOV_IS_STUFF[n] for n in ("blind", "tank", "apparel", "ashcan")}
    assert classes["wall"].is_stuff is True
    paper = SegDataset("ade150", ["blind"], [sample], has_background=False, kind="ade20k", check_files=False)
    assert paper.prompts == ["blind"]


def test_service_gives_the_engines_prompts():
    from ovdiff_web.vocabularies.prompts import dataset_class_prompts, generator_prompt

    for profile in ("paper", "sdov"):
        config = default_config(profile)
        for kind, names in NAMES.items():
            assert dataset_class_prompts(kind, names, config) == dataset_prompts(kind, names,
                                                                                 config.segment.class_prompts)
    assert generator_prompt(" red car ", "sdov") == "A good picture of a red car"
    override = dataclasses.replace(default_config("paper").segment, class_prompts="sdov")
    assert dataset_class_prompts("context", ["pottedplant"], default_config("paper").replace(segment=override)) \
        == ["plant"]
