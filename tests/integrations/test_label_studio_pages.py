"""The dashboard pages of Label Studio connections: the list and one connection, whose "compare before/after" link
picks the last evaluation run on the connection's dataset from before the newest correction and the newest run
since, and opens the compare page with both (per-class IoU before and after). A second user gets 404, anonymous
users the login page."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.ui.factories import make_demo_dataset


@pytest.fixture
def world(user: Any, media_root: Path, tmp_path: Path) -> dict[str, Any]:
    from ovdiff_web.integrations.models import LabelStudioConnection, hash_token

    dataset = make_demo_dataset(tmp_path / "corrected", owner=user)
    connection = LabelStudioConnection.objects.create(
        owner=user, name="street team", token_hash=hash_token("t"), label_studio_url="http://127.0.0.1:9",
        access_token="x", profile="tiny", dataset=dataset)
    return {"connection": connection, "dataset": dataset}


def _run(dataset: Any, user: Any, minutes_ago: float, iou: dict[str, float], **extra: Any) -> Any:
    from ovdiff_web.core.models import Run

    run = Run.objects.create(dataset=dataset, created_by=user, profile="tiny", status=extra.pop("status", "succeeded"),
                             class_names=["background", *iou], per_class_iou=iou,
                             miou=sum(iou.values()) / len(iou), **extra)
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return run


def _annotation(connection: Any, minutes_ago: float, annotation_id: int) -> None:
    from ovdiff_web.integrations.models import LabelStudioAnnotation

    row = LabelStudioAnnotation.objects.create(connection=connection, annotation_id=annotation_id, task_id=7,
                                               revision=str(annotation_id), image_id="task-7", classes=["cat"],
                                               support_added=["cat"], completed_by="ann@example.com")
    LabelStudioAnnotation.objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(minutes=minutes_ago))


@pytest.mark.django_db
def test_compare_before_after_picks_the_runs_around_the_newest_correction(world: dict[str, Any], user: Any) -> None:
    connection, dataset = world["connection"], world["dataset"]
    ui = Client()
    ui.force_login(user)
    page = ui.get(f"/label-studio/{connection.pk}/").content.decode()
    assert "no correction received from Label Studio yet" in page and "data-compare-before-after" not in page

    _run(dataset, user, 100, {"background": 0.9, "cat": 0.10})  # older than the run just before the import
    before = _run(dataset, user, 60, {"background": 0.9, "cat": 0.20})
    _annotation(connection, 90, 1)  # an older correction: not the newest
    _annotation(connection, 30, 2)  # the newest correction
    _run(dataset, user, 50, {"background": 0.9, "cat": 0.99}, status="failed")  # not finished: never picked
    page = ui.get(f"/label-studio/{connection.pk}/").content.decode()
    assert f"re-run run {before.pk} to see the change" in page and "data-compare-before-after" not in page

    _run(dataset, user, 20, {"background": 0.9, "cat": 0.40})
    after = _run(dataset, user, 10, {"background": 0.9, "cat": 0.60})
    _run(dataset, user, 5, {"background": 0.9, "cat": 0.70}, kind="segmentation")  # a prediction job: not scored
    page = ui.get(f"/label-studio/{connection.pk}/").content.decode()
    link = f'href="/compare/?runs={before.pk},{after.pk}"'
    assert link in page, page
    compare = ui.get(f"/compare/?runs={before.pk},{after.pk}").content.decode()
    row = re.search(r'<tr data-class-row="cat".*?</tr>', compare, re.S).group(0)
    cells = re.findall(r'<td class="num[^"]*"[^>]*>(?:<strong>)?([^<]*)', row)
    assert cells == ["20.0", "60.0", "40.0", "+40.0"], row  # cat's IoU before, after, spread, change (%)
    assert connection.name in ui.get("/label-studio/").content.decode()
    assert f"/label-studio/{connection.pk}/" in ui.get(f"/datasets/{dataset.pk}/").content.decode()


@pytest.mark.django_db
def test_connection_pages_are_the_owners(world: dict[str, Any], other_user: Any) -> None:
    connection = world["connection"]
    bob = Client()
    bob.force_login(other_user)
    assert bob.get(f"/label-studio/{connection.pk}/").status_code == 404
    assert connection.name not in bob.get("/label-studio/").content.decode()
    anonymous = Client()
    for url in ("/label-studio/", f"/label-studio/{connection.pk}/"):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
