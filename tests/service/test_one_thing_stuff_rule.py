"""One thing/stuff rule: a run over a registered dataset (no vocabulary) gives every class the same thing/stuff label
and the same prompt in the service as ``python -m engine evaluate`` on that dataset, under every profile, for all
classes of VOC (21/20), Pascal Context (60/59), COCO-Object and ADE20K. The CLI side is the CLI itself (its
``evaluate`` command, stopped where it would start building support sets)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.engine.test_datasets import _write_ade, _write_coco, _write_context, _write_voc

pytestmark = pytest.mark.django_db
DATASETS = [("voc", _write_voc, ("voc21", "voc20")), ("context", _write_context, ("context60", "context59")),
            ("coco_object", _write_coco, ("coco_object",)), ("ade20k", _write_ade, ("ade150",))]
PROFILES = ("tiny", "paper", "paper-shape", "sdov")  # dinov2-small has no generator: it needs uploaded support sets


class Captured(Exception):
    """Raised by the stand-in for ``evaluate_dataset``: the CLI decided its classes, nothing else is needed."""


def _cli_classes(monkeypatch: Any, kind: str, root: Path, protocol: str, profile: str, tmp_path: Path) -> list:
    import engine.evaluation.evaluate as evaluate
    from engine.cli import main

    seen: list[Any] = []

    def stop(ovd: Any, ds: Any, out: Any, **kwargs: Any) -> dict:
        seen.extend(kwargs["classes"])
        raise Captured

    monkeypatch.setattr(evaluate, "evaluate_dataset", stop)
    with pytest.raises(Captured):
        main(["evaluate", "--dataset", kind, "--root", str(root), "--protocol", protocol, "--profile", profile,
              "--store", str(tmp_path / "cli-store"), "--out", str(tmp_path / "cli-out")])
    return [(c.name, c.text, c.is_stuff) for c in seen]


def test_service_and_cli_label_and_prompt_every_class_alike(user: Any, media_root: Path, tmp_path: Path,
                                                            monkeypatch: Any, settings: Any) -> None:
    from ovdiff_web.core.models import Dataset
    from ovdiff_web.datasets.services import ingest
    from ovdiff_web.runs.services import create_run

    settings.OVDIFF_MAX_ACTIVE_PER_USER = 1000
    compared = 0
    for kind, write, protocols in DATASETS:
        root = write(tmp_path / kind)
        for protocol in protocols:
            dataset = ingest(Dataset.objects.create(name=protocol, format=kind, source=Dataset.Source.SERVER,
                                                    root=str(root), split="val", protocol=protocol,
                                                    created_by=user))
            assert dataset.status == Dataset.Status.READY, dataset.ingest_errors
            for profile in PROFILES:
                run = create_run(user=user, dataset=dataset, profile=profile)
                service = [(e["name"], e["prompt"] or e["name"], e["is_stuff"]) for e in run.vocabulary_snapshot]
                cli = _cli_classes(monkeypatch, kind, root, protocol, profile, tmp_path)
                differ = [(s, c) for s, c in zip(service, cli) if s != c]
                assert len(service) == len(cli) and not differ, (protocol, profile, differ[:5])
                sources = {e["label_source"] for e in run.vocabulary_snapshot}
                assert sources == {"dataset" if run.settings["segment"]["thing_stuff_table"] else "labeller"}
                compared += len(service)
    # 20 + 20 + 59 + 59 + 80 + 150 classes under each profile (backgrounds are not classes)
    assert compared == len(PROFILES) * (20 + 20 + 59 + 59 + 80 + 150)


def test_the_sdov_table_is_the_one_both_use(user: Any, media_root: Path, tmp_path: Path) -> None:
    """Under sdov the dataset table decides (the authors' IS_STUFF), not the labeller's default lookup: at least
    one ADE20K class has another label than the labeller alone would give (else this test could not fail)."""
    from engine.class_specs import is_stuff_text
    from ovdiff_web.core.models import Dataset
    from ovdiff_web.datasets.services import ingest
    from ovdiff_web.runs.services import create_run

    dataset = ingest(Dataset.objects.create(name="ade", format="ade20k", source=Dataset.Source.SERVER,
                                            root=str(_write_ade(tmp_path / "ade")), split="val", created_by=user))
    snapshot = create_run(user=user, dataset=dataset, profile="sdov").vocabulary_snapshot
    plain = [is_stuff_text(e["prompt"] or e["name"]) for e in snapshot]
    assert sum(p != e["is_stuff"] for p, e in zip(plain, snapshot)) > 0


def test_vocabulary_page_says_where_each_label_came_from(user: Any, media_root: Path, tmp_path: Path) -> None:
    """Classes imported from a registered dataset are labelled by that dataset's own table ("dataset table"), typed
    ones by the labeller, flipped ones by a person: the vocabulary page names each source."""
    from django.test import Client

    from engine.segment.labeller import label_class
    from ovdiff_web.core.models import Dataset, Vocabulary
    from ovdiff_web.vocabularies import services as vocab_service
    from ovdiff_web.datasets.services import ingest

    dataset = ingest(Dataset.objects.create(name="ade", format="ade20k", source=Dataset.Source.SERVER,
                                            root=str(_write_ade(tmp_path / "ade")), split="val", created_by=user))
    vocabulary = Vocabulary.objects.create(name="v", owner=user)
    ui = Client()
    ui.force_login(user)
    assert ui.post(f"/vocabularies/{vocabulary.pk}/import/", {"dataset": dataset.pk}).status_code == 302
    imported = list(vocabulary.classes.all())
    assert len(imported) == 150 and {c.label_source for c in imported} == {"dataset"}
    assert all(c.is_stuff == (label_class(c.name, "ade20k").label == "stuff") for c in imported)
    assert all(c.label_note.startswith("table:ade20k") for c in imported)
    typed, _ = vocab_service.add_classes(vocabulary, ["red bicycle"], user=user)
    flipped = imported[0]
    vocab_service.set_label(flipped, is_stuff=not flipped.is_stuff, user=user)
    html = ui.get(f"/vocabularies/{vocabulary.pk}/").content.decode()
    sources = [cell.split("</td>")[0] for cell in html.split("data-source>")[1:]]
    badges = [s.split('<span class="badge">')[1].split("</span>")[0] for s in sources]
    assert badges.count("dataset table") == 149 and badges.count("labeller") == 1 and badges.count("user alice") == 1
    assert typed[0].label_source == "labeller"
