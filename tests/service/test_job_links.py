"""A job names its exports: ``links`` in ``GET /api/runs/{id}/`` and ``GET /api/predictions/{id}/`` holds only what
exists for that job and what the caller may read; every link answers 200 to the owner (API links with the token,
the page with a browser session) and 404 to a second user; the OpenAPI schema describes the object."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ovdiff_web.runs.api.job_links import RUN_LINKS
from tests.service.test_predictions import done_job  # noqa: F401  (fixture: a finished prediction job of alice's)
from tests.ui.factories import make_demo_dataset, make_finished_run

pytestmark = pytest.mark.django_db
ALWAYS = {"self", "page", "progress", "results"}


def _clients(person: Any) -> tuple[APIClient, Client]:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=person)[0].key}")
    ui = Client()
    ui.force_login(person)
    return api, ui


def _follow(links: dict[str, str], person: Any, image_id: str = "") -> dict[str, int]:
    """GET every link as ``person``: the page with a session, the rest with the API token only."""
    api, ui = _clients(person)
    codes = {}
    for name, url in links.items():
        if name == "explain":
            url = url.replace("{image}", image_id).replace("{x}", "1").replace("{y}", "1")
        parts = urlsplit(url)
        assert parts.scheme == "http" and parts.netloc == "testserver", url  # absolute URLs
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        codes[name] = (ui if name == "page" else api).get(path).status_code
    return codes


@pytest.fixture
def evaluation(user: Any, media_root: Path, tmp_path: Path) -> Any:
    from ovdiff_web.core.models import Vocabulary

    run = make_finished_run(make_demo_dataset(tmp_path / "demo", owner=user), user, media_root)
    run.vocabulary = Vocabulary.objects.create(name="alice-v", owner=user)
    run.save(update_fields=["vocabulary"])
    return run


def test_evaluation_links_follow_the_job(evaluation: Any, user: Any, other_user: Any) -> None:
    from ovdiff_web.accounts import access

    api, _ = _clients(user)
    links = api.get(f"/api/runs/{evaluation.pk}/").json()["links"]
    assert set(links) == ALWAYS | {"images", "report", "report_csv", "labels_zip", "coco_polygons", "yolo", "dataset",
                                   "vocabulary"}
    assert set(_follow(links, user).values()) == {200}, _follow(links, user)
    assert set(_follow(links, other_user).values()) == {404}, _follow(links, other_user)
    listed = next(r for r in api.get("/api/runs/").json()["results"] if r["id"] == evaluation.pk)
    assert listed["links"] == links  # one shape: the list carries the same links
    # bob may read the run but neither its dataset nor its vocabulary: those links are not his
    access.share(evaluation, visibility="public")
    bob_api, _ = _clients(other_user)
    bob_links = bob_api.get(f"/api/runs/{evaluation.pk}/").json()["links"]
    assert set(bob_links) == set(links) - {"dataset", "vocabulary"}
    assert set(_follow(bob_links, other_user).values()) == {200}
    access.share(evaluation.dataset, visibility="public")
    assert "dataset" in bob_api.get(f"/api/runs/{evaluation.pk}/").json()["links"]


def test_a_job_without_results_links_no_export(evaluation: Any, user: Any) -> None:
    from ovdiff_web.core.models import Run

    queued = Run.objects.create(dataset=evaluation.dataset, profile="tiny", created_by=user)
    api, _ = _clients(user)
    links = api.get(f"/api/runs/{queued.pk}/").json()["links"]
    assert set(links) == ALWAYS | {"dataset"}
    assert set(_follow(links, user).values()) == {200}


def test_prediction_links_follow_the_job(done_job: dict[str, Any], user: Any, other_user: Any) -> None:  # noqa: F811
    api, _ = _clients(user)
    job = api.get(f"/api/predictions/{done_job['id']}/").json()
    links = job["links"]
    assert set(links) == ALWAYS | {"labels_zip", "coco", "coco_polygons", "yolo", "explain"}
    assert links["explain"].endswith("?image={image}&x={x}&y={y}")
    image_id = api.get(links["results"]).json()["results"][0]["image_id"]
    assert set(_follow(links, user, image_id).values()) == {200}, _follow(links, user, image_id)
    assert set(_follow(links, other_user, image_id).values()) == {404}, _follow(links, other_user, image_id)


def test_schema_describes_the_links(api: APIClient) -> None:
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    for component in ("Run", "RunDetail", "Prediction"):
        field = schema[component]["properties"]["links"]
        assert set(field["properties"]) == set(RUN_LINKS), component
        assert field["properties"]["explain"]["format"] == "uri-template"
        assert set(field["required"]) == ALWAYS and field["readOnly"] is True
