"""The compare page names what makes runs not directly comparable: another dataset, other images (count or
identity), other classes. Runs that scored the same thing get no warning."""
from __future__ import annotations

import html as html_lib
from typing import Any

import pytest

from ovdiff_web.core.models import Dataset, Run

pytestmark = pytest.mark.django_db


def _copy(run: Run, **changes: Any) -> Run:
    fields = {"dataset": run.dataset, "created_by": run.created_by, "profile": run.profile, "status": run.status,
              "class_names": list(run.class_names), "image_ids": list(run.image_ids), "miou": 0.5,
              "per_class_iou": {n: 0.5 for n in run.class_names}, "settings": run.settings, "limit": run.limit,
              "vocabulary_snapshot": list(run.vocabulary_snapshot)}
    return Run.objects.create(**{**fields, **changes})


def _warning(ui: Any, *runs: Run) -> str:
    page = ui.get("/compare/?runs=" + ",".join(str(r.pk) for r in runs))
    assert page.status_code == 200
    text = html_lib.unescape(page.content.decode())
    if "data-mismatch" not in text:
        return ""
    return text.split("data-mismatch", 1)[1].split("</div>", 1)[0]


def test_same_dataset_images_and_classes_get_no_warning(ui: Any, finished_run: Run) -> None:
    assert _warning(ui, finished_run, _copy(finished_run, settings={"segmenter": {"use_pamr": False}})) == ""


def test_other_dataset_fewer_images_and_other_classes_are_named(ui: Any, finished_run: Run, user: Any) -> None:
    other_ds = Dataset.objects.create(name="street", format="folder", source="server", root="/nowhere",
                                      status="ready", class_names=["road"], image_ids=["a"], created_by=user)
    names = [entry["name"] for entry in finished_run.vocabulary_snapshot]
    snapshot = finished_run.vocabulary_snapshot[:-1] + [{"name": n, "prompt": ""} for n in ("zebra", "lava")]
    other = _copy(finished_run, dataset=other_ds, image_ids=finished_run.image_ids[:2], limit=2,
                  vocabulary_snapshot=snapshot)
    warning = _warning(ui, finished_run, other)
    assert "Different datasets" in warning
    assert f"#{finished_run.pk} on 'demo'" in warning and f"#{other.pk} on 'street'" in warning
    n = len(finished_run.image_ids)
    assert f"#{finished_run.pk}: {n} images" in warning and f"#{other.pk}: 2 images (limit 2)" in warning
    assert "Different vocabularies" in warning
    assert f"#{finished_run.pk} also has {names[-1]}" in warning and f"#{other.pk} also has zebra, lava" in warning


def test_same_count_of_other_images_and_a_deleted_dataset(ui: Any, finished_run: Run) -> None:
    ids = list(finished_run.image_ids)
    other = _copy(finished_run, image_ids=ids[:-1] + ["not-" + ids[-1]])
    warning = _warning(ui, finished_run, other)
    assert f"The same number of images ({len(ids)}) but not the same images" in warning
    assert "Different datasets" not in warning and "vocabularies" not in warning
    orphan = _copy(finished_run, dataset=None)
    assert f"#{orphan.pk} on a deleted dataset" in _warning(ui, finished_run, orphan)


def test_another_users_run_is_neither_compared_nor_described(client: Any, other_user: Any,
                                                            finished_run: Run) -> None:
    client.force_login(other_user)
    own = _copy(finished_run, created_by=other_user, dataset=None, vocabulary_snapshot=[{"name": "secret"}])
    page = client.get(f"/compare/?runs={finished_run.pk},{own.pk}").content.decode()
    assert "not found or not shared with you" in page and "data-mismatch" not in page
    assert "also has" not in page and "'demo'" not in html_lib.unescape(page)


def test_the_run_picker_offers_evaluations_not_prediction_jobs(ui: Any, finished_run: Run) -> None:
    """A prediction job has no ground truth and no mIoU: there is nothing of it to compare."""
    job = _copy(finished_run, kind=Run.Kind.SEGMENTATION, dataset=None, miou=None)
    picker = ui.get("/compare/").content.decode().split("<select", 1)[1].split("</select>", 1)[0]
    assert f'value="{finished_run.pk}"' in picker
    assert f'value="{job.pk}"' not in picker
