"""The exports teams import, read back: COCO polygons (pycocotools decodes each polygon to the pixels of its region
of the stored label PNG) and YOLO segmentation labels (data.yaml names the classes; each line, rasterised, is a
region). A region under the minimum area is left out, a hole of at least that area stays a hole, a smaller one is
filled. The job's files are written the way the worker writes them (``files.write_outputs``' label files)."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client
from rest_framework.test import APIClient

from ovdiff_web.core.models import ImageResult, Run

pytestmark = pytest.mark.django_db
H, W = 48, 64


def label_maps() -> dict[str, np.ndarray]:
    """Two images: a "cat" ring (a 10x12 hole) with a 2x2 hole, a second cat, a 2x2 cat speckle (under the
    minimum area) and "sky" along the top edge; a second image with a sky disk only."""
    a = np.zeros((H, W), np.uint8)
    a[0:6, :] = 2  # sky, touching the border
    a[10:40, 4:34] = 1  # cat ring ...
    a[16:26, 12:24] = 0  # ... with a hole kept (120 px)
    a[30:32, 8:10] = 0  # ... and a hole filled (4 px)
    a[12:44, 44:58] = 1  # a second cat
    a[42:44, 38:40] = 1  # speckle: left out
    b = np.zeros((H, W), np.uint8)
    yy, xx = np.mgrid[:H, :W]
    b[((yy - 24) ** 2 + (xx - 30) ** 2) < 150] = 2
    return {"ring.png": a, "disk.png": b}


@pytest.fixture
def job(user: Any, media_root: Path) -> Run:
    from engine.evaluation.predictions import write_prediction
    from ovdiff_web.runs.legend import write_shown_labels

    run = Run.objects.create(kind=Run.Kind.SEGMENTATION, profile="tiny", status=Run.Status.SUCCEEDED,
                             class_names=["background", "cat", "sky"], label_map={"cat": 1, "sky": 2},
                             vocabulary_snapshot=[{"name": "cat", "prompt": "", "is_stuff": False},
                                                  {"name": "sky", "prompt": "", "is_stuff": True}],
                             image_ids=list(label_maps()), created_by=user)
    out = media_root / "runs" / str(run.pk)
    for image_id, labels in label_maps().items():
        paths = write_prediction(out, image_id, np.zeros((H, W, 3), np.uint8), labels, 3)
        write_shown_labels(out, image_id, labels)
        ImageResult.objects.create(run=run, image_id=image_id, width=W, height=H,
                                   prediction=paths["prediction"].relative_to(media_root).as_posix(),
                                   overlay=paths["overlay"].relative_to(media_root).as_posix())
    return run


def regions(labels: np.ndarray, value: int, min_area: int = 16) -> list[np.ndarray]:
    """The 4-connected regions of ``value`` of at least ``min_area`` pixels, holes under ``min_area`` filled."""
    from skimage import measure

    out = []
    parts = measure.label(labels == value, connectivity=1)
    for k in range(1, parts.max() + 1):
        region = parts == k
        if region.sum() < min_area:
            continue
        outside = measure.label(np.pad(~region, 1), connectivity=2)[1:-1, 1:-1]
        border = measure.label(np.pad(~region, 1), connectivity=2)[0, 0]
        for h in set(np.unique(outside).tolist()) - {0, border}:
            if (outside == h).sum() < min_area:
                region = region | (outside == h)
        out.append(region)
    return out


def best_iou(mask: np.ndarray, candidates: list[np.ndarray]) -> float:
    return max(float((mask & c).sum() / (mask | c).sum()) for c in candidates)


def test_coco_polygons_decode_to_the_regions(api: APIClient, job: Run) -> None:
    from pycocotools import mask as coco_mask

    doc = api.get(f"/api/predictions/{job.pk}/coco-polygons.json/").json()
    assert [(c["id"], c["name"], c["isthing"]) for c in doc["categories"]] == [(1, "cat", 1), (2, "sky", 0)]
    assert doc["info"]["min_area"] == 16 and "hole" in doc["info"]["regions"]
    files = {i["id"]: i["file_name"] for i in doc["images"]}
    maps = label_maps()
    found: dict[tuple[str, int], int] = {}
    for ann in doc["annotations"]:
        labels = maps[files[ann["image_id"]]]
        assert isinstance(ann["segmentation"], list) and len(ann["segmentation"][0]) >= 6
        rle = coco_mask.merge(coco_mask.frPyObjects(ann["segmentation"], H, W))
        decoded = coco_mask.decode(rle).astype(bool)
        assert best_iou(decoded, regions(labels, ann["category_id"])) >= 0.9
        assert ann["area"] == pytest.approx(decoded.sum(), rel=0.1)
        x, y, w, h = ann["bbox"]
        ys, xs = np.nonzero(decoded)
        assert (x, y) == pytest.approx((xs.min(), ys.min()), abs=1) and w == pytest.approx(xs.max() - xs.min() + 1, abs=1)
        key = (files[ann["image_id"]], ann["category_id"])
        found[key] = found.get(key, 0) + 1
    # every region over the minimum area, and nothing else: two cats and the sky, then one sky disk
    assert found == {("ring.png", 1): 2, ("ring.png", 2): 1, ("disk.png", 2): 1}
    ring = next(a for a in doc["annotations"] if files[a["image_id"]] == "ring.png" and a["category_id"] == 1
                and a["bbox"][0] < 10)
    decoded = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(ring["segmentation"], H, W)))
    assert decoded[16:26, 12:24].sum() == 0  # the large hole stays a hole
    assert decoded[30:32, 8:10].all()  # the 4-pixel hole is filled
    # a larger minimum area leaves the smaller regions out
    bigger = api.get(f"/api/predictions/{job.pk}/coco-polygons.json/", {"min_area": 450}).json()
    assert len(bigger["annotations"]) < len(doc["annotations"])
    assert all(a["area"] >= 450 for a in bigger["annotations"])


def test_yolo_labels_rasterise_to_the_regions(api: APIClient, job: Run) -> None:
    import yaml
    from skimage import draw

    response = api.get(f"/api/predictions/{job.pk}/yolo.zip/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["data.yaml", "labels/disk.txt", "labels/ring.txt"]
    data = yaml.safe_load(archive.read("data.yaml"))
    assert data["names"] == {0: "cat", 1: "sky"} and data["nc"] == 2
    value_of = {0: 1, 1: 2}  # YOLO class id -> label PNG index
    maps = label_maps()
    counts: dict[tuple[str, int], int] = {}
    for name in ("ring", "disk"):
        labels = maps[f"{name}.png"]
        for line in archive.read(f"labels/{name}.txt").decode().splitlines():
            parts = line.split()
            cls, coords = int(parts[0]), np.array([float(v) for v in parts[1:]]).reshape(-1, 2)
            assert len(coords) >= 3 and (coords >= 0).all() and (coords <= 1).all()
            xs, ys = coords[:, 0] * W, coords[:, 1] * H
            rr, cc = draw.polygon(ys - 0.5, xs - 0.5, (H, W))  # pixel centres at +0.5; even-odd fill
            mask = np.zeros((H, W), bool)
            mask[rr, cc] = True
            assert best_iou(mask, regions(labels, value_of[cls])) >= 0.9, (name, cls)
            counts[(name, cls)] = counts.get((name, cls), 0) + 1
    assert counts == {("ring", 0): 2, ("ring", 1): 1, ("disk", 1): 1}


def test_coco_rle_leaves_out_regions_under_min_area(api: APIClient, job: Run, ui_client: Client) -> None:
    from pycocotools import mask as coco_mask

    doc = api.get(f"/api/predictions/{job.pk}/coco.json/").json()
    assert doc["info"]["min_area"] == 16
    files = {i["id"]: i["file_name"] for i in doc["images"]}
    ring = label_maps()["ring.png"]
    cat = next(a for a in doc["annotations"] if files[a["image_id"]] == "ring.png" and a["category_id"] == 1)
    decoded = coco_mask.decode(dict(cat["segmentation"], counts=cat["segmentation"]["counts"].encode())).astype(bool)
    assert not decoded[42:44, 38:40].any()  # the 4-pixel speckle is left out
    assert cat["area"] == int((ring == 1).sum()) - 4 and decoded[30:32, 8:10].sum() == 0  # holes stay exact
    np.testing.assert_array_equal(decoded, (ring == 1) & ~np.pad(np.ones((2, 2), bool), ((42, 4), (38, 24))))
    every = api.get(f"/api/predictions/{job.pk}/coco.json/", {"min_area": 1}).json()
    cat = next(a for a in every["annotations"] if a["image_id"] == cat["image_id"] and a["category_id"] == 1)
    assert cat["area"] == int((ring == 1).sum())
    assert ui_client.get(f"/segment/jobs/{job.pk}/coco.json", {"min_area": 1}).json()["annotations"] == \
        every["annotations"]
    assert api.get(f"/api/predictions/{job.pk}/coco.json/", {"min_area": "x"}).json().keys() >= {"min_area"}
    assert ui_client.get(f"/segment/jobs/{job.pk}/coco.json", {"min_area": "0"}).status_code == 400


def test_labels_zip_names_each_image_once(api: APIClient, user: Any, media_root: Path, ui_client: Client) -> None:
    """``labels/astronaut.png`` for ``astronaut.jpg`` (not ``astronaut.jpg.png``); ``a.jpg`` and ``a.png`` both
    kept, the second with its extension."""
    from engine.evaluation.predictions import write_prediction

    ids = ["a.jpg", "a.png", "astronaut.jpg", "sub/astronaut.png"]
    run = Run.objects.create(kind=Run.Kind.SEGMENTATION, profile="tiny", status=Run.Status.SUCCEEDED,
                             class_names=["background", "cat", "sky"], label_map={"cat": 1, "sky": 2},
                             image_ids=ids, created_by=user)
    for n, image_id in enumerate(ids):
        paths = write_prediction(media_root / "runs" / str(run.pk), image_id, np.zeros((H, W, 3), np.uint8),
                                 np.full((H, W), n % 3, np.uint8), 3)
        ImageResult.objects.create(run=run, image_id=image_id, width=W, height=H,
                                   prediction=paths["prediction"].relative_to(media_root).as_posix())
    for content in (api.get(f"/api/predictions/{run.pk}/labels.zip/").content,
                    ui_client.get(f"/segment/jobs/{run.pk}/labels.zip").content):
        archive = zipfile.ZipFile(io.BytesIO(content))
        assert sorted(archive.namelist()) == ["labels/a.png", "labels/a.png.png", "labels/astronaut.png",
                                              "labels/sub/astronaut.png", "legend.json"]
        from PIL import Image

        assert np.array(Image.open(io.BytesIO(archive.read("labels/a.png.png")))).max() == 1  # a.png's labels


def test_bad_min_area_is_a_400_naming_it(api: APIClient, job: Run, ui_client: Client) -> None:
    for url in (f"/api/predictions/{job.pk}/coco-polygons.json/", f"/api/predictions/{job.pk}/yolo.zip/"):
        for bad in ("x", "0", "-3"):
            response = api.get(url, {"min_area": bad})
            assert response.status_code == 400 and "min_area" in response.json(), (url, bad)
    for url in (f"/segment/jobs/{job.pk}/coco-polygons.json", f"/segment/jobs/{job.pk}/yolo.zip"):
        response = ui_client.get(url, {"min_area": "lots"})
        assert response.status_code == 400 and b"min_area" in response.content


@pytest.fixture
def ui_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_links_page_and_access(api: APIClient, job: Run, ui_client: Client, other_user: Any) -> None:
    from rest_framework.authtoken.models import Token

    links = api.get(f"/api/predictions/{job.pk}/").json()["links"]
    assert links["coco_polygons"].endswith(f"/api/predictions/{job.pk}/coco-polygons.json/")
    assert links["yolo"].endswith(f"/api/predictions/{job.pk}/yolo.zip/")
    assert api.get(links["coco_polygons"]).status_code == 200 and api.get(links["yolo"]).status_code == 200
    page = ui_client.get(f"/segment/jobs/{job.pk}/").content.decode()
    assert f'href="/segment/jobs/{job.pk}/coco-polygons.json" data-download-coco-polygons' in page
    assert f'href="/segment/jobs/{job.pk}/yolo.zip" data-download-yolo' in page
    ui_doc = json.loads(ui_client.get(f"/segment/jobs/{job.pk}/coco-polygons.json").content)
    assert ui_doc == api.get(links["coco_polygons"]).json()
    ui_zip = zipfile.ZipFile(io.BytesIO(ui_client.get(f"/segment/jobs/{job.pk}/yolo.zip").content))
    assert "data.yaml" in ui_zip.namelist()
    bob = APIClient()
    bob.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")
    bob_ui = Client()
    bob_ui.force_login(other_user)
    anon_ui = Client()
    for api_url, ui_url in ((links["coco_polygons"], f"/segment/jobs/{job.pk}/coco-polygons.json"),
                            (links["yolo"], f"/segment/jobs/{job.pk}/yolo.zip")):
        assert bob.get(api_url).status_code == 404
        assert APIClient().get(api_url).status_code in (401, 403)
        assert bob_ui.get(ui_url).status_code == 404
        response = anon_ui.get(ui_url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_openapi_names_the_exports(api: APIClient) -> None:
    import yaml

    schema = yaml.safe_load(api.get("/api/schema/").content)
    for path in ("/api/predictions/{id}/coco-polygons.json/", "/api/predictions/{id}/yolo.zip/"):
        assert path in schema["paths"], path
        params = {p["name"] for p in schema["paths"][path]["get"].get("parameters", [])}
        assert "min_area" in params


def test_evaluation_run_exports_read_back(api: APIClient, user: Any, other_user: Any, media_root: Path,
                                          tmp_path: Path) -> None:
    """An evaluation run's predictions export the same way (legend indices; the dataset's background left out)."""
    import yaml
    from pycocotools import mask as coco_mask
    from skimage import draw

    from ovdiff_web.runs.images import load_prediction
    from tests.ui.factories import make_demo_dataset, make_finished_run

    run = make_finished_run(make_demo_dataset(tmp_path / "demo", owner=user), user, media_root)
    run.label_map = {name: i for i, name in enumerate(run.class_names)}  # as the worker stores it
    run.save(update_fields=["label_map"])
    links = api.get(f"/api/runs/{run.pk}/").json()["links"]
    doc = api.get(links["coco_polygons"]).json()
    assert [c["name"] for c in doc["categories"]] == run.class_names[1:]  # "background" is not annotated
    files = {i["id"]: i["file_name"] for i in doc["images"]}
    rows = {r.image_id: r for r in run.image_results.all()}
    assert set(files.values()) == set(rows) and doc["annotations"]
    for ann in doc["annotations"]:
        labels = load_prediction(rows[files[ann["image_id"]]], shown=True)
        h, w = labels.shape
        decoded = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(ann["segmentation"], h, w))).astype(bool)
        assert best_iou(decoded, regions(labels, ann["category_id"])) >= 0.9
    archive = zipfile.ZipFile(io.BytesIO(api.get(links["yolo"]).content))
    names = yaml.safe_load(archive.read("data.yaml"))["names"]
    assert list(names.values()) == run.class_names[1:]
    lines = 0
    for image_id, row in rows.items():
        labels = load_prediction(row, shown=True)
        h, w = labels.shape
        for line in archive.read(f"labels/{Path(image_id).with_suffix('.txt').as_posix()}").decode().splitlines():
            parts = line.split()
            coords = np.array([float(v) for v in parts[1:]]).reshape(-1, 2)
            rr, cc = draw.polygon(coords[:, 1] * h - 0.5, coords[:, 0] * w - 0.5, (h, w))
            mask = np.zeros((h, w), bool)
            mask[rr, cc] = True
            assert best_iou(mask, regions(labels, int(parts[0]) + 1)) >= 0.9
            lines += 1
    assert lines == len(doc["annotations"])  # the same regions in both formats
    page = Client()
    page.force_login(user)
    html = page.get(f"/runs/{run.pk}/").content.decode()
    assert f'href="/runs/{run.pk}/export/coco-polygons.json" data-export-coco-polygons' in html
    assert page.get(f"/runs/{run.pk}/export/yolo.zip").status_code == 200
    assert page.get(f"/runs/{run.pk}/export/yolo.zip", {"min_area": "0"}).status_code == 400
    assert api.get(links["yolo"], {"min_area": "many"}).status_code == 400
    bob = Client()
    bob.force_login(other_user)
    for url in (f"/runs/{run.pk}/export/coco-polygons.json", f"/runs/{run.pk}/export/yolo.zip"):
        assert bob.get(url).status_code == 404
        assert Client().get(url).status_code == 302
    for url in (links["coco_polygons"], links["yolo"]):
        assert APIClient().get(url).status_code in (401, 403)
