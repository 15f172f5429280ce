"""One ClassSpec builder for names, a dataset's classes and a stored snapshot; one override function."""
from __future__ import annotations

import pytest

from engine.class_specs import class_specs, dataset_entries
from engine.config import apply_overrides
from engine.errors import BadInputError
from engine.profiles import default_config


def test_names_dataset_and_snapshot_give_the_same_kind_of_specs(tmp_path) -> None:
    by_name = class_specs(["cat", "sky"])
    assert [(c.name, c.prompt, c.is_stuff) for c in by_name] == [("cat", None, False), ("sky", None, True)]
    assert [c.is_stuff for c in class_specs(["cat", "sky"], stuff=["cat"])] == [True, False]
    entries = dataset_entries(["background", "aeroplane", "grass"], ["background", "airplane", "grass"], True)
    assert entries == [{"name": "aeroplane", "prompt": "airplane"}, {"name": "grass", "prompt": "grass"}]
    assert [c.text for c in class_specs(entries)] == ["airplane", "grass"]
    snapshot = [{"name": "tree", "prompt": "", "is_stuff": True, "user_support_dir": "uploads/tree"}]
    (spec,) = class_specs(snapshot, support_root=tmp_path)
    assert spec.is_stuff and spec.prompt is None and spec.user_support_dir == str(tmp_path / "uploads/tree")
    with pytest.raises(BadInputError, match="sky"):
        class_specs(["cat"], stuff=["sky"])


def test_overrides_from_the_cli_and_from_the_api_are_the_same_function() -> None:
    base = default_config("tiny")
    assert apply_overrides(base, ["support.seed=7"]) == apply_overrides(base, {"support": {"seed": 7}})
    with pytest.raises(BadInputError, match="no_such_section"):
        apply_overrides(base, {"no_such_section": 1})
    with pytest.raises(BadInputError, match="unknown setting support.nope"):
        apply_overrides(base, {"support": {"nope": 1}})
