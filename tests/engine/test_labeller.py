"""Thing/stuff labeller: complete tables for the benchmark datasets, the paper's corrections, documented rules."""
from __future__ import annotations

import pytest

from engine.segment.labeller import (
    ThingStuffLabel,
    dataset_classes,
    label_class,
    load_table,
    normalise,
    singular,
    singular_forms,
)


@pytest.mark.parametrize("dataset,count", [("voc", 20), ("context", 59), ("coco_object", 80), ("coco_stuff", 171),
                                           ("ade20k", 150)])
def test_tables_cover_every_class(dataset, count):
    names = dataset_classes(dataset)
    assert len(names) == len(set(names)) == count
    for n in names:
        got = label_class(n, dataset)
        assert got.source == f"table:{dataset}" and got.label in ("thing", "stuff"), n


def test_tables_agree_with_the_dataset_readers_class_lists():
    classes = pytest.importorskip("engine.evaluation.datasets.classes")
    for dataset, names in [("voc", classes.VOC_CLASSES), ("context", classes.CONTEXT59_CLASSES),
                           ("coco_object", classes.COCO_OBJECT_CLASSES), ("ade20k", classes.ADE150_CLASSES)]:
        assert [normalise(n) for n in names] == [normalise(n) for n in dataset_classes(dataset)], dataset


def test_splits_of_the_datasets():
    table = load_table()["tables"]
    assert set(table["voc"].values()) == {"thing"} and set(table["coco_object"].values()) == {"thing"}
    coco = list(table["coco_stuff"].values())
    assert coco.count("thing") == 80 and coco.count("stuff") == 91
    assert list(table["context"].values()).count("stuff") == 19
    assert list(table["ade20k"].values()).count("thing") == 101  # ADE panoptic 100 things + blanket corrected


@pytest.mark.parametrize("name", ["glass", "blanket", "trade name"])
def test_admitted_errors_are_corrected_to_thing(name):
    assert label_class(name).label == "thing"
    assert label_class(name, "paper_corrected").label == "thing"
    assert label_class(name, "paper_chatgpt").label == "stuff"  # the published answer stays reviewable


@pytest.mark.parametrize("name", ["land", "sand", "snow", "ground"])
def test_admitted_errors_are_corrected_to_stuff(name):
    assert label_class(name).label == "stuff"
    assert label_class(name, "paper_corrected").label == "stuff"


def test_corrected_entries_carry_a_note():
    got = label_class("blanket", "ade20k")
    assert got == ThingStuffLabel("thing", "table:ade20k", got.note) and "bedding" in got.note


def test_dataset_conventions_can_differ_and_are_chosen_by_dataset():
    assert label_class("tree", "context").label == "thing"  # the paper's (ChatGPT) answer used by the code
    assert label_class("tree", "ade20k").label == "stuff"  # ADE20K panoptic
    assert label_class("cabinet", "coco_stuff").label == "stuff"
    assert label_class("cabinet").label == "thing"
    with pytest.raises(KeyError, match="unknown"):
        label_class("tree", "nope")


def test_normalisation_synonyms_and_plurals():
    assert normalise("  Potted_Plant ") == "potted plant"
    assert normalise("wall-brick") == "wall brick"
    assert normalise("toilet, can, commode") == "toilet"
    assert [singular(w) for w in ["houses", "ponies", "cars", "glass", "bus", "skis"]] == \
           ["house", "pony", "car", "glass", "bus", "skis"]
    assert singular_forms("buses") == ["buse", "bus"] and singular_forms("boxes") == ["boxe", "box"]
    got = label_class("TV monitor")
    assert got.label == "thing" and got.source == "table:voc" and "tvmonitor" in got.note
    assert label_class("Buses").source == "table:voc" and label_class("boxes").source == "table:ade20k"
    assert label_class("trash can").label == "thing"
    assert label_class("wall-brick", "coco_stuff").label == "stuff"


def test_rules_for_unknown_names():
    assert label_class("red car") == ThingStuffLabel("thing", "rule:head-noun", "head noun 'car' in table:voc")
    assert label_class("night sky").source == "rule:head-noun" and label_class("night sky").label == "stuff"
    play = label_class("playground")
    assert play.label == "stuff" and play.source == "rule:stuff-keyword"
    assert label_class("frozen tundra terrain").label == "stuff"
    assert label_class("husky").label == "thing"  # no substring matching of "sky"
    assert label_class("flux capacitor") == ThingStuffLabel("thing", "rule:default", label_class("zzz").note)
    assert label_class("").source == "rule:default"
