"""Media bucket down or refusing (OVDIFF_MEDIA_URL): like a broker outage, a request that publishes or fetches media
answers 503 naming the object store and the settings to check (JSON on the API, a page on the dashboard), fast,
and keeps nothing half-stored (no row, no local file). Real HTTP only: a closed loopback port (endpoint down) or
moto's server with no such bucket (the bucket refuses)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from tests.engine.test_object_store import _free_port, s3_endpoint  # noqa: F401  (module-scoped moto server)
from tests.service.conftest import demo_zip
from tests.service.test_predictions import submit

pytest.importorskip("boto3")
pytestmark = pytest.mark.django_db
SETTINGS_NAMED = ("object store is unavailable", "OVDIFF_MEDIA_URL", "AWS_ENDPOINT_URL")


def _point_at(endpoint: str, monkeypatch: pytest.MonkeyPatch, settings: Any, bucket: str) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", endpoint)):
        monkeypatch.setenv(name, value)
    settings.OVDIFF_MEDIA_URL = f"s3://{bucket}/team"
    settings.OVDIFF_OBJECT_STORE_CONNECT_TIMEOUT_S = 1
    settings.OVDIFF_OBJECT_STORE_MAX_ATTEMPTS = 1


@pytest.fixture
def endpoint_down(monkeypatch: pytest.MonkeyPatch, settings: Any, media_root: Path) -> None:
    """Media configured on an endpoint nobody listens on (a closed loopback port)."""
    _point_at(f"http://127.0.0.1:{_free_port()}", monkeypatch, settings, "media")


@pytest.fixture
def bucket_missing(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, settings: Any,  # noqa: F811
                   media_root: Path) -> None:
    """Media configured on a live S3 server whose bucket does not exist."""
    _point_at(s3_endpoint, monkeypatch, settings, f"absent-{time.monotonic_ns()}")


def _named(archive: Any, name: str = "data.zip") -> Any:
    archive.name = name
    return archive


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _says_what_to_check(text: str) -> None:
    for words in SETTINGS_NAMED:
        assert words in text, text


def test_api_upload_with_the_endpoint_down_is_a_fast_503_and_keeps_nothing(api: Any, endpoint_down: None,
                                                                          media_root: Path) -> None:
    from ovdiff_web.core.models import Dataset

    started = time.monotonic()
    response = api.post("/api/datasets/", {"name": "demo", "format": "folder", "file": demo_zip()},
                        format="multipart")
    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith("application/json")
    _says_what_to_check(response.json()["detail"])
    assert time.monotonic() - started < 20  # bounded timeouts, one attempt: no minutes-long hang
    assert not Dataset.objects.exists()
    assert _files_under(media_root) == []


def test_dashboard_upload_to_a_missing_bucket_shows_the_message_and_keeps_nothing(
        ui_client: Any, bucket_missing: None, media_root: Path) -> None:
    from ovdiff_web.core.models import Dataset

    form = {"name": "demo", "format": "folder", "archive": _named(demo_zip()), "split": "val", "protocol": ""}
    response = ui_client.post(reverse("ui:dataset_upload"), form)
    assert response.status_code == 503
    page = response.content.decode()
    assert "Storage unavailable" in page and 'role="alert"' in page
    _says_what_to_check(page)
    assert not Dataset.objects.exists()
    assert _files_under(media_root) == []


def test_prediction_upload_with_the_endpoint_down_keeps_no_job_and_no_images(api: Any, endpoint_down: None,
                                                                             media_root: Path) -> None:
    from ovdiff_web.core.models import Run

    response = submit(api)
    assert response.status_code == 503, response.content
    _says_what_to_check(response.json()["detail"])
    assert not Run.objects.exists()
    assert _files_under(media_root) == []


def test_fetching_a_file_with_the_endpoint_down_is_a_503_page_not_an_error_page(ui_client: Any,
                                                                                endpoint_down: None) -> None:
    from ovdiff_web.support.models import SupportSet

    # a set generated from class text: shared with every signed-in user, so the access check passes and the
    # request reaches the (down) media bucket
    SupportSet.objects.create(key="0000", class_name="cat", prompt="cat", profile="tiny")
    response = ui_client.get("/files/support/ab/0000/image.png")
    assert response.status_code == 503
    _says_what_to_check(response.content.decode())


def test_a_missing_bucket_is_an_outage_not_a_missing_file(bucket_missing: None) -> None:
    from engine.storage.object_store import ObjectStoreUnavailable
    from ovdiff_web.common import media_store

    with pytest.raises(ObjectStoreUnavailable, match="OVDIFF_MEDIA_URL"):
        media_store.fetch("runs/1/pred/x.png")
    with pytest.raises(ObjectStoreUnavailable):
        media_store.fetch_tree("user_support/1/abc")


def test_every_object_store_client_has_bounded_timeouts_and_retries(settings: Any, monkeypatch: pytest.MonkeyPatch,
                                                                     media_root: Path) -> None:
    from ovdiff_web.common import engine_bridge, media_store

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    settings.OVDIFF_MEDIA_URL = "s3://media/team"
    settings.OVDIFF_STORE_URL = "s3://artifacts/store"
    settings.OVDIFF_OBJECT_STORE_CONNECT_TIMEOUT_S = 3
    settings.OVDIFF_OBJECT_STORE_READ_TIMEOUT_S = 7
    settings.OVDIFF_OBJECT_STORE_MAX_ATTEMPTS = 2
    monkeypatch.setitem(engine_bridge.ENGINE_CACHE, "store", None)
    for client in (media_store._client(), engine_bridge.store().s3):
        config = client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (3, 7)
        assert config.retries == {"total_max_attempts": 2, "mode": "standard"}  # the first try + one retry


def test_support_upload_with_the_endpoint_down_keeps_the_class_and_no_folder(ui_client: Any, endpoint_down: None,
                                                                             media_root: Path, user: Any) -> None:
    import io

    from PIL import Image

    from ovdiff_web.core.models import Vocabulary, VocabularyClass

    cls = VocabularyClass.objects.create(vocabulary=Vocabulary.objects.create(name="v", owner=user), name="cat")
    buf = io.BytesIO()
    Image.new("RGB", (24, 24), (200, 10, 10)).save(buf, format="PNG")
    buf.seek(0)
    buf.name = "cat1.png"
    response = ui_client.post(f"/classes/{cls.pk}/", {"images": [buf]})
    assert response.status_code == 503
    _says_what_to_check(response.content.decode())
    before = cls.version
    cls.refresh_from_db()
    assert (cls.user_support_dir, cls.version) == ("", before)
    assert _files_under(media_root) == []


def test_the_artifact_store_on_a_dead_endpoint_names_its_setting(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.storage.object_store import ObjectStoreUnavailable, open_store

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = open_store("s3://artifacts/store", tmp_path, endpoint_url=f"http://127.0.0.1:{_free_port()}",
                       connect_timeout=1, max_attempts=1)
    key = "ab" + "0" * 62
    with pytest.raises(ObjectStoreUnavailable, match="OVDIFF_STORE_URL"):
        store.exists("support", key)
    with pytest.raises(ObjectStoreUnavailable), store.writing("support", key) as tmp:
        (tmp / "bank.npy").write_bytes(b"x")
    assert not (tmp_path / "support").exists()  # nothing cached locally either



def test_deleting_a_run_with_the_endpoint_down_is_a_503_and_deletes_nothing(ui_client: Any,
                                                                            endpoint_down: None, user: Any,
                                                                            other_user: Any, media_root: Path) -> None:
    from django.test import Client

    from ovdiff_web.core.models import Run

    run = Run.objects.create(created_by=user, profile="tiny", status=Run.Status.SUCCEEDED)
    outputs = media_root / "runs" / str(run.pk)
    outputs.mkdir(parents=True)
    (outputs / "metrics.json").write_text("{}")
    stranger = Client()
    stranger.force_login(other_user)
    assert stranger.post(f"/runs/{run.pk}/delete/").status_code == 404  # access first: an outage leaks nothing
    response = ui_client.post(f"/runs/{run.pk}/delete/")
    assert response.status_code == 503
    _says_what_to_check(response.content.decode())
    assert Run.objects.filter(pk=run.pk).exists() and (outputs / "metrics.json").is_file()
