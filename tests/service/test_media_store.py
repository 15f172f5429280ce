"""Media on a real S3-compatible server (moto's server mode, local): two "machines" with their own MEDIA_ROOT and
one bucket. A published folder is fetched whole by the other machine, never half (its marker is uploaded last), a
file only the bucket holds is fetched on first read through ``paths.media_path``, removal deletes the bucket's copy,
and with no media URL nothing changes (MEDIA_ROOT is the only copy)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.engine.test_object_store import s3_endpoint  # noqa: F401  (module-scoped moto server fixture)

boto3 = pytest.importorskip("boto3")


@pytest.fixture
def media_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> tuple[str, Any]:
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", s3_endpoint)):
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = f"media-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    client.create_bucket(Bucket=bucket)
    settings.OVDIFF_MEDIA_URL = f"s3://{bucket}/team"
    settings.MEDIA_ROOT = tmp_path / "machine-a"
    return bucket, client


def _machine(settings: Any, path: Path) -> Path:
    settings.MEDIA_ROOT = path
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_published_folder_reaches_another_machine_whole(media_bucket: tuple[str, Any], settings: Any,
                                                        tmp_path: Path) -> None:
    from ovdiff_web.common import media_store

    bucket, client = media_bucket
    a = _machine(settings, tmp_path / "machine-a")
    folder = a / "datasets" / ("ab" * 16) / "demo"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "x.png").write_bytes(b"png-bytes")
    (folder / "labels.txt").write_text("cat\n")
    media_store.publish(f"datasets/{'ab' * 16}")
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [f"team/datasets/{'ab' * 16}/{n}" for n in (".complete", "demo/images/x.png", "demo/labels.txt")]

    b = _machine(settings, tmp_path / "machine-b")
    # The row keeps machine A's absolute root; machine B finds the same folder under its own MEDIA_ROOT.
    local = media_store.local_dataset_root(str(folder), uploaded=True)
    assert Path(local) == b / "datasets" / ("ab" * 16) / "demo"
    assert (Path(local) / "images" / "x.png").read_bytes() == b"png-bytes"
    assert not list(b.rglob(".complete")) and not list(b.rglob(".*-*"))  # no marker, no temp left locally
    assert media_store.local_dataset_root("/srv/datasets/voc", uploaded=False) == "/srv/datasets/voc"


def test_folder_without_its_marker_is_not_fetched(media_bucket: tuple[str, Any], settings: Any,
                                                  tmp_path: Path) -> None:
    from ovdiff_web.common import media_store

    bucket, client = media_bucket
    client.put_object(Bucket=bucket, Key="team/user_support/7/half/000.png", Body=b"x")  # a writer mid-upload
    _machine(settings, tmp_path / "machine-b")
    assert media_store.fetch_tree("user_support/7/half") is False
    assert not (tmp_path / "machine-b" / "user_support" / "7" / "half").exists()


def test_a_file_only_the_bucket_holds_is_read_through_media_path_then_removed(
        media_bucket: tuple[str, Any], settings: Any, tmp_path: Path) -> None:
    from ovdiff_web.common import media_store
    from ovdiff_web.common.paths import media_path

    bucket, client = media_bucket
    a = _machine(settings, tmp_path / "machine-a")  # a worker writes a prediction and publishes it
    (a / "runs" / "3" / "pred").mkdir(parents=True)
    (a / "runs" / "3" / "pred" / "img.png").write_bytes(b"prediction")
    media_store.publish(a / "runs" / "3" / "pred" / "img.png")

    b = _machine(settings, tmp_path / "machine-b")  # the web reads it
    assert media_path("runs/3/pred/img.png").read_bytes() == b"prediction"
    assert not media_path("runs/3/pred/missing.png").exists()
    media_store.remove("runs/3")
    assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="team/runs/3/")
    assert (b / "runs" / "3" / "pred" / "img.png").is_file()  # local copies are the caller's to delete
    with pytest.raises(ValueError):
        media_store.fetch("../outside.png")


def test_without_a_media_url_media_root_is_the_only_copy(settings: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from ovdiff_web.common import media_store

    def no_client() -> None:
        raise AssertionError("no object storage may be contacted without OVDIFF_MEDIA_URL")

    monkeypatch.setattr(media_store, "_client", no_client)
    settings.OVDIFF_MEDIA_URL = ""
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "runs").mkdir()
    media_store.publish("runs")  # no bucket, no client, nothing happens
    media_store.remove("runs")
    assert media_store.fetch("runs/1/x.png") is False and media_store.fetch_tree("runs/2") is False
    assert media_store.local_dataset_root(str(tmp_path / "datasets" / ("c" * 32)), uploaded=True) == \
        str(tmp_path / "datasets" / ("c" * 32))
