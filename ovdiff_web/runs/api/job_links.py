"""The ``links`` of a job (``GET /api/runs/{id}/``, ``GET /api/predictions/{id}/``): where its exports are.

Only what exists for that job (an export of per-image results once there are results) and what the caller may read
(the dataset and vocabulary only when ``access`` lets them; the job's own exports follow the job, which they could
read to get here). Every link is an absolute URL a client can GET as is, except ``explain``: an RFC 6570 URI
template (``{image}``, ``{x}``, ``{y}``) for one pixel of one image. API links accept the API token; ``page`` is the
dashboard page (a signed-in browser session).
"""
from __future__ import annotations

from typing import Any, Callable

from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse

from ovdiff_web.accounts import access
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.runs.models import ImageResult, Run
from ovdiff_web.vocabularies.models import Vocabulary

DESCRIPTION = ("Where the job's exports are: only those that exist for this job and that you may read. Absolute "
               "URLs to GET as they are, except `explain`, an RFC 6570 URI template. API links accept your token; "
               "`page` is the dashboard page (a signed-in browser).")
# name -> what it is (the OpenAPI schema's description of each link)
RUN_LINKS = {
    "self": "this job (API)",
    "page": "the job's dashboard page",
    "progress": "stage progress (API)",
    "results": "metrics: mIoU, per-class IoU, confusion (API; evaluations) / per-image results and legend "
               "(API; predictions)",
    "images": "per-image results, sortable by IoU (API; evaluations with results)",
    "report": "the full report as JSON: results, settings, reproduction, per-image scores (API; evaluations "
              "with results)",
    "report_csv": "per-class and per-image IoU as CSV (API; evaluations with results)",
    "labels_zip": "every label PNG of the job in one zip (API; with results)",
    "coco": "COCO-style JSON with one RLE mask per class present in each image (API; predictions with results; "
            "regions under ?min_area= pixels, default 16, left out)",
    "coco_polygons": "COCO-style JSON with one polygon per region of each class (API; with results; "
                     "?min_area= pixels, default 16)",
    "yolo": "YOLO segmentation labels (labels/<image>.txt) and data.yaml naming the classes, in one zip (API; "
            "with results; ?min_area= pixels, default 16)",
    "explain": "URI template {image}, {x}, {y}: which prototype decided one pixel, and its support image "
               "(API; predictions with results)",
    "dataset": "the dataset (API; when you may read it)",
    "vocabulary": "the vocabulary (API; when you may read it)",
}


def with_link_facts(queryset: QuerySet[Run], user: Any) -> QuerySet[Run]:
    """``queryset`` annotated with what ``job_links`` needs to know, so a page of jobs costs no query per job."""
    datasets = access.scope(Dataset.objects.filter(pk=OuterRef("dataset_id")), user)
    vocabularies = access.scope(Vocabulary.objects.filter(pk=OuterRef("vocabulary_id")), user)
    return queryset.annotate(links_results=Exists(ImageResult.objects.filter(run=OuterRef("pk"))),
                             links_dataset=Exists(datasets), links_vocabulary=Exists(vocabularies))


def _fact(run: Run, name: str, query: Callable[[], bool]) -> bool:
    value = getattr(run, f"links_{name}", None)
    return bool(query() if value is None else value)


def job_links(run: Run, user: Any, absolute: Callable[[str], str]) -> dict[str, str]:
    """The links of ``run`` for ``user`` (who may read it); ``absolute`` makes a path an absolute URL."""
    prediction = run.kind == Run.Kind.SEGMENTATION
    api = "prediction" if prediction else "run"
    has_results = _fact(run, "results", run.image_results.exists)

    def api_url(action: str) -> str:
        return absolute(reverse(f"{api}-{action}", args=[run.pk]))

    links = {"self": api_url("detail"),
             "page": absolute(reverse("ui:prediction" if prediction else "ui:run_detail", args=[run.pk])),
             "progress": api_url("progress"), "results": api_url("results")}
    if has_results and prediction:
        links.update(labels_zip=api_url("labels-zip"), coco=api_url("coco"),
                     coco_polygons=api_url("coco-polygons"), yolo=api_url("yolo-zip"),
                     explain=api_url("explain") + "?image={image}&x={x}&y={y}")
    elif has_results:
        links.update(images=api_url("images"), report=api_url("report"), report_csv=api_url("report-csv"),
                     labels_zip=api_url("labels-zip"), coco_polygons=api_url("coco-polygons"),
                     yolo=api_url("yolo-zip"))
    if run.dataset_id and _fact(run, "dataset",
                                lambda: access.scope(Dataset.objects.filter(pk=run.dataset_id), user).exists()):
        links["dataset"] = absolute(reverse("dataset-detail", args=[run.dataset_id]))
    if run.vocabulary_id and _fact(run, "vocabulary",
                                   lambda: access.scope(Vocabulary.objects.filter(pk=run.vocabulary_id), user).exists()):
        links["vocabulary"] = absolute(reverse("vocabulary-detail", args=[run.vocabulary_id]))
    return links
