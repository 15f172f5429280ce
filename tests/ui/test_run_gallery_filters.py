"""The run page's images list as teams read it: filtered by a class present (ground truth, prediction or either)
and by a per-image IoU range, sorted by IoU or name, the choices kept across pages; the API's images the same."""
from __future__ import annotations

import re
from typing import Any

import pytest

from ovdiff_web.core.models import ImageResult, Run

pytestmark = pytest.mark.django_db


def _ids(html: str) -> list[str]:
    gallery = html[html.index("data-gallery>"):]
    return re.findall(r'<figure class="tile" data-image-id="([^"]+)"', gallery)


def _class_only_in_some(run: Run, field: str) -> str:
    counts: dict[str, int] = {}
    rows = list(run.image_results.all())
    for r in rows:
        for name in getattr(r, field):
            counts[name] = counts.get(name, 0) + 1
    partial = [n for n, c in counts.items() if 0 < c < len(rows)]
    assert partial, counts
    return partial[0]


def test_filter_by_ground_truth_class_and_iou_range_sorted(ui: Any, finished_run: Run) -> None:
    name = _class_only_in_some(finished_run, "gt_classes")
    rows = [r for r in finished_run.image_results.all() if name in r.gt_classes]
    html = ui.get(f"/runs/{finished_run.pk}/?class={name}&class_in=gt&sort=iou&order=desc").content.decode()
    expected = [r.image_id for r in sorted(rows, key=lambda r: (-r.iou, r.image_id))]
    assert _ids(html) == expected
    assert f"{len(rows)} of {finished_run.image_results.count()} images with {name} in the ground truth" in html
    # an IoU range: only images within it, worst first
    ious = sorted(r.iou for r in finished_run.image_results.all())
    high = (ious[1] + ious[2]) / 2
    html = ui.get(f"/runs/{finished_run.pk}/?iou_max={high}&sort=iou&order=asc").content.decode()
    assert _ids(html) == [r.image_id for r in finished_run.image_results.filter(iou__lte=high).order_by("iou")]
    html = ui.get(f"/runs/{finished_run.pk}/?iou_min={high}&sort=name&order=desc").content.decode()
    assert _ids(html) == sorted((r.image_id for r in finished_run.image_results.filter(iou__gte=high)), reverse=True)


def test_prediction_and_either_differ_from_ground_truth(ui: Any, finished_run: Run) -> None:
    row = finished_run.image_results.order_by("image_id").first()
    ImageResult.objects.filter(pk=row.pk).update(classes_present=["zebra-like"], gt_classes=["only-truth"])
    ImageResult.objects.filter(run=finished_run).exclude(pk=row.pk).update(gt_classes=[], classes_present=[])
    ImageResult.objects.filter(run=finished_run).exclude(pk=row.pk).update(gt_classes=[], classes_present=[])
    Run.objects.filter(pk=finished_run.pk).update(class_names=[*finished_run.class_names, "zebra-like", "only-truth"])
    base = f"/runs/{finished_run.pk}/?class="
    assert _ids(ui.get(base + "zebra-like&class_in=pred").content.decode()) == [row.image_id]
    assert _ids(ui.get(base + "zebra-like&class_in=gt").content.decode()) == []
    assert _ids(ui.get(base + "only-truth&class_in=either").content.decode()) == [row.image_id]
    assert _ids(ui.get(base + "only-truth&class_in=pred").content.decode()) == []


def test_choices_kept_across_pages_and_form_is_labelled(ui: Any, finished_run: Run, monkeypatch: Any) -> None:
    from ovdiff_web.runs.views import runs as run_views

    monkeypatch.setattr(run_views, "GALLERY_PAGE", 2)
    html = ui.get(f"/runs/{finished_run.pk}/?sort=iou&order=desc&iou_max=1").content.decode()
    nxt = re.search(r'href="([^"]+)" data-gallery-next', html).group(1).replace("&amp;", "&")
    for part in ("sort=iou", "order=desc", "iou_max=1", "gpage=2"):
        assert part in nxt, nxt
    for field in ("class", "class_in", "iou_min", "iou_max", "sort", "order"):
        assert f'<label for="gallery-{field}">' in html, field
    assert 'id="gallery-class"' in html and "data-gallery-filter" in html
    page1, page2 = _ids(html), _ids(ui.get(f"/runs/{finished_run.pk}/" + nxt.split("#")[0]).content.decode())
    ordered = [r.image_id for r in finished_run.image_results.order_by("-iou", "image_id")]
    assert page1 + page2 == ordered[:4]


def test_old_runs_missing_iou_and_ground_truth_classes(ui: Any, finished_run: Run) -> None:
    """Rows scored before ground-truth classes were kept get them from the dataset on first use; an image
    without an IoU shows "—" and sorts last both ways."""
    name = _class_only_in_some(finished_run, "gt_classes")
    expected = sorted(r.image_id for r in finished_run.image_results.all() if name in r.gt_classes)
    ImageResult.objects.filter(run=finished_run).update(gt_classes=None)
    no_iou = finished_run.image_results.order_by("image_id").first()
    ImageResult.objects.filter(pk=no_iou.pk).update(iou=None)
    html = ui.get(f"/runs/{finished_run.pk}/?class={name}&sort=name").content.decode()
    assert _ids(html) == expected
    assert not ImageResult.objects.filter(run=finished_run, gt_classes__isnull=True).exists()
    for order in ("asc", "desc"):
        ids = _ids(ui.get(f"/runs/{finished_run.pk}/?sort=iou&order={order}").content.decode())
        assert ids[-1] == no_iou.image_id
    html = ui.get(f"/runs/{finished_run.pk}/").content.decode()
    tile = html[html.index(f'data-image-id="{no_iou.image_id}"'):]
    assert "IoU <strong>—</strong>" in tile[:tile.index("</figure>")]


def test_bad_filters_are_a_400_naming_the_field(ui: Any, finished_run: Run) -> None:
    response = ui.get(f"/runs/{finished_run.pk}/?iou_max=abc&class=no-such")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-filter-error="iou_max"' in html and 'data-filter-error="class"' in html
    response = ui.get(f"/runs/{finished_run.pk}/?iou_min=0.8&iou_max=0.2")
    assert response.status_code == 400 and "iou_max (0.2) is below iou_min (0.8)" in response.content.decode()


def test_legacy_gsort_links_still_sort(ui: Any, finished_run: Run) -> None:
    html = ui.get(f"/runs/{finished_run.pk}/?gsort=-iou").content.decode()
    assert _ids(html) == [r.image_id for r in finished_run.image_results.order_by("-iou", "image_id")]


def test_api_images_filter_by_class(ui: Any, finished_run: Run, other_user: Any, client: Any) -> None:
    name = _class_only_in_some(finished_run, "gt_classes")
    url = f"/api/runs/{finished_run.pk}/images/"
    data = ui.get(url, {"class": name, "class_in": "gt", "ordering": "-iou"}).json()
    expected = [r.image_id for r in finished_run.image_results.order_by("-iou", "image_id") if name in r.gt_classes]
    assert [r["image_id"] for r in data["results"]] == expected
    assert all(name in r["gt_classes"] for r in data["results"])
    pred = _class_only_in_some(finished_run, "classes_present")
    data = ui.get(url, {"class": pred, "class_in": "pred"}).json()
    assert sorted(r["image_id"] for r in data["results"]) == sorted(
        r.image_id for r in finished_run.image_results.all() if pred in r.classes_present)
    bad = ui.get(url, {"class": "no-such"})
    assert bad.status_code == 400 and "class" in bad.json()
    assert ui.get(url, {"class": name, "class_in": "nowhere"}).status_code == 400
    ui.logout()
    assert client.get(url).status_code in (401, 403)
    client.force_login(other_user)
    assert client.get(url).status_code == 404
