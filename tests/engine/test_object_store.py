"""The artifact store on a real S3-compatible server (moto's server mode, started locally on a free port): the
same atomic publish rule (an artifact is visible only once complete) and the same cache hits across machines
(two stores with separate local caches on one bucket), including the pre-filter's text embeddings."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

boto3 = pytest.importorskip("boto3")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    """A moto S3 server subprocess (real HTTP, real boto3 client), stopped after the module."""
    server = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def bucket(s3_endpoint, monkeypatch) -> tuple[str, object]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    name = f"ovdiff-{time.monotonic_ns()}"
    client.create_bucket(Bucket=name)
    return name, client


def _store(tmp_path: Path, bucket: tuple[str, object], machine: str):
    from engine.storage.object_store import ObjectArtifactStore

    name, client = bucket
    return ObjectArtifactStore(tmp_path / machine, name, "runs/a", client=client)


def test_an_artifact_is_visible_only_when_complete(tmp_path, bucket):
    name, client = bucket
    one = _store(tmp_path, bucket, "one")
    key = "ab" + "0" * 62
    # a writer that died mid-upload: files without the marker
    client.put_object(Bucket=name, Key=f"runs/a/bank/ab/{key}/bank.json", Body=b"{}")
    assert not one.exists("bank", key) and one.keys("bank") == []
    with pytest.raises(RuntimeError):
        with one.writing("bank", key) as tmp:
            (tmp / "bank.json").write_text("{}")
            raise RuntimeError("killed while building")
    assert not one.exists("bank", key)
    with one.writing("bank", key) as tmp:
        (tmp / "bank.json").write_text('{"ok": 1}')
        (tmp / "sub").mkdir()
        (tmp / "sub" / "x.npy").write_bytes(b"123")
    marker = client.get_object(Bucket=name, Key=f"runs/a/bank/ab/{key}/COMPLETE")
    assert marker["ContentLength"] > 0 and one.keys("bank") == [key]


def test_a_second_machine_gets_cache_hits_from_the_bucket(tmp_path, bucket):
    one, two = _store(tmp_path, bucket, "one"), _store(tmp_path, bucket, "two")
    key = "cd" + "1" * 62
    built: list[str] = []

    def build(d: Path) -> None:
        built.append("x")
        (d / "data.txt").write_text("payload")

    one.get_or_build("support", key, build)
    assert two.exists("support", key) and not (tmp_path / "two" / "support").exists()  # not downloaded yet
    path = two.get_or_build("support", key, build)
    assert built == ["x"], "the second machine must not rebuild a complete artifact"
    assert (path / "data.txt").read_text() == "payload" and path.is_relative_to(tmp_path / "two")
    assert two.remove("support", key) and not two.exists("support", key)
    assert two.keys("support") == [] and not (tmp_path / "two" / "support" / key[:2] / key).exists()


def test_prefilter_text_embeddings_are_shared_through_the_bucket(tiny_registry, tmp_path, bucket):
    import numpy as np
    import torch

    from engine.features.text_cache import CachedClipScorer

    image = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    first = CachedClipScorer(tiny_registry, _store(tmp_path, bucket, "one"))
    scores = first(image, ["a cat", "a cat and a dog"])
    other = CachedClipScorer(tiny_registry, _store(tmp_path, bucket, "two"))
    assert torch.allclose(other(image, ["a cat and a dog", "a cat"]), scores.flip(0), atol=1e-6)
    assert first.encoded == 2 and other.encoded == 0


def test_open_store_picks_the_backend(tmp_path):
    from engine.storage.object_store import ObjectArtifactStore, open_store
    from engine.storage.store import ArtifactStore

    assert type(open_store(str(tmp_path))) is ArtifactStore
    store = open_store("s3://bucket-x/some/prefix", cache_root=tmp_path, endpoint_url="http://127.0.0.1:9")
    assert isinstance(store, ObjectArtifactStore) and store.bucket == "bucket-x" and store.prefix == "some/prefix/"
