"""No shared directory: the web and a GPU worker on different "machines" (separate MEDIA_ROOTs and store caches,
separate processes) share only the database, Redis and one S3-compatible bucket (moto's server mode, local).

A dataset uploaded through the API lands in the bucket; the worker fetches it into its own MEDIA_ROOT, builds the
classes into the bucket's artifact store and writes run outputs that it publishes; the web never sees the worker's
folders, yet its dashboard serves the predictions, overlays and metrics.json of the run (fetched on first read),
and refuses them to a second user. A prediction job (images uploaded on the web) goes the same way.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.engine.test_object_store import s3_endpoint  # noqa: F401  (module-scoped moto server fixture)
from tests.reliability.conftest import FAST_SETTINGS, FINISHED, redis_or_skip, upload_demo, wait_finished
from tests.service.test_predictions import png

boto3 = pytest.importorskip("boto3")
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]
MEDIA_REDIS = "redis://127.0.0.1:6379/6"  # a DB of its own: redis_or_skip empties it


def _objects(client: Any, bucket: str, prefix: str) -> dict[str, bytes]:
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
    return {k[len(prefix):]: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def test_dataset_uploaded_on_the_web_is_evaluated_elsewhere_and_served_back(
        workers_factory: Any, api: Any, settings: Any, tmp_path: Path, s3_endpoint: str,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, client: Any, user: Any, other_user: Any) -> None:
    redis_or_skip(MEDIA_REDIS)
    aws = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": s3_endpoint}
    for name, value in aws.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = f"ovdiff-{tmp_path.name.lower().replace('_', '-')[-30:]}"
    s3.create_bucket(Bucket=bucket)
    settings.OVDIFF_MEDIA_URL = f"s3://{bucket}/media"
    settings.OVDIFF_STORE_URL = f"s3://{bucket}/store"
    settings.OVDIFF_SHARD_SIZE = 2
    web_media = Path(settings.MEDIA_ROOT)
    worker_media, worker_store = tmp_path / "gpu-machine" / "media", tmp_path / "gpu-machine" / "store"

    workers = workers_factory(MEDIA_REDIS)
    workers.start({**aws, "MEDIA_ROOT": str(worker_media), "OVDIFF_STORE_DIR": str(worker_store),
                   "OVDIFF_MEDIA_URL": settings.OVDIFF_MEDIA_URL, "OVDIFF_STORE_URL": settings.OVDIFF_STORE_URL,
                   "OVDIFF_BROKER_VISIBILITY_TIMEOUT_S": "3600"})

    dataset_id = upload_demo(api, n_images=4)
    uploaded = _objects(s3, bucket, "media/datasets/")
    assert any(k.endswith("/.complete") for k in uploaded) and any(k.endswith(".png") for k in uploaded)

    response = api.post("/api/runs/", {"dataset": dataset_id, "settings": FAST_SETTINGS}, format="json")
    assert response.status_code == 201, response.content
    run_id = int(response.json()["id"])
    run = wait_finished(api, run_id, 600, workers.log_text)
    assert run["status"] == "succeeded", (run, workers.log_text())

    # The worker read the dataset from its own MEDIA_ROOT and wrote the outputs there; the web has none of them.
    assert list((worker_media / "datasets").rglob("*.png")), "the worker fetched the uploaded dataset"
    assert (worker_media / "runs" / str(run_id) / "metrics.json").is_file()
    assert not (web_media / "runs").exists() and not (web_media / "support").exists()
    assert any(key.startswith("support/") for key in _objects(s3, bucket, "store/"))  # artifacts: bucket
    outputs = _objects(s3, bucket, f"media/runs/{run_id}/")
    assert "metrics.json" in outputs and any(k.startswith("pred/") for k in outputs)

    # The dashboard serves them (fetched from the bucket on first read), byte for byte.
    client.force_login(user)
    rows = api.get(f"/api/runs/{run_id}/images/?page_size=50").json()["results"]
    assert len(rows) == 4
    for row in rows:
        served = client.get(f"/files/{row['prediction']}")
        assert served.status_code == 200
        body = b"".join(served.streaming_content)
        assert hashlib.sha256(body).digest() == hashlib.sha256(outputs[row["prediction"].split("/", 2)[2]]).digest()
        assert client.get(f"/runs/{run_id}/images/{row['id']}/pred.png").status_code == 200
    page = client.get(f"/runs/{run_id}/")
    assert page.status_code == 200
    assert (web_media / "runs" / str(run_id) / "metrics.json").is_file()  # the page's reproduction block read it
    support_pngs = [k for k in _objects(s3, bucket, "media/support/") if k.endswith(".png")]
    assert support_pngs and client.get(f"/files/support/{support_pngs[0]}").status_code == 200

    # A prediction job: images uploaded on the web, segmented by the worker, labels and explanations served back.
    response = api.post("/api/predictions/", {"files": [png("street.png"), png("park.png", seed=1)],
                                              "classes": "brick, grass", "stuff": "grass",
                                              "settings": json.dumps(FAST_SETTINGS)}, format="multipart")
    assert response.status_code == 202, response.content
    job_id = int(response.json()["id"])
    deadline = time.monotonic() + 600
    while api.get(f"/api/predictions/{job_id}/progress/").json()["status"] not in FINISHED:
        assert time.monotonic() < deadline, workers.log_text()
        time.sleep(0.3)
    job = api.get(f"/api/predictions/{job_id}/").json()
    assert job["status"] == "succeeded", (job, workers.log_text())
    assert (worker_media / "runs" / str(job_id) / "images" / "park.png").is_file()  # fetched by the worker
    assert not (web_media / "runs" / str(job_id) / "labels").exists()
    base = f"/api/predictions/{job_id}"
    assert api.get(f"{base}/label.png/", {"image": "park.png"}).status_code == 200
    assert api.get(f"{base}/explain/", {"image": "park.png", "x": 3, "y": 5}).json()["explanations"]
    assert list((web_media / "runs" / str(job_id) / "labels").glob("park*.png"))  # fetched from the bucket

    # A second user gets nothing of it.
    client.force_login(other_user)
    assert client.get(f"/files/{rows[0]['prediction']}").status_code == 404
    assert client.get(f"/runs/{run_id}/images/{rows[0]['id']}/pred.png").status_code == 404
