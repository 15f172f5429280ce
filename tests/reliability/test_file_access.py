"""No way around access: every file kind under MEDIA_ROOT (run outputs, uploaded support images, support-set PNGs
built from uploads or a curated review, segmentations, uploaded datasets) and every support-image layer answers
404 to anonymous users and to a second user, under DEBUG=1 and DEBUG=0, before sharing and again after the owner
stops sharing; the owner gets 200. Nothing is served under ``/media/`` at all (the static ``serve`` is gone).
Generated support sets from a class text alone stay readable by every signed-in user."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from django.test import Client, override_settings
from django.urls import clear_url_caches
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.ui.factories import make_demo_dataset, make_finished_run

pytestmark = pytest.mark.django_db
LAYERS = ("attribution", "fg_mask", "bg_mask")


@pytest.fixture(params=[True, False], ids=["DEBUG=1", "DEBUG=0"])
def debug(request: Any) -> Iterator[bool]:
    """The URL conf as built under DEBUG on or off (a route mounted only under DEBUG would appear here)."""
    import ovdiff_web.urls

    with override_settings(DEBUG=request.param):
        importlib.reload(ovdiff_web.urls)
        clear_url_caches()
        yield request.param
    importlib.reload(ovdiff_web.urls)
    clear_url_caches()


def _png(path: Path, value: int = 255) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(path)
    return path.as_posix()


def _support_set(media: Path, key: str, **fields: Any) -> Any:
    """A recorded support set with one image, its layers and one proposed instance mask, files on disk."""
    from ovdiff_web.core.models import PrototypeBank, SupportImage, SupportSet

    sset = SupportSet.objects.create(key=key, class_name="cat", prompt="cat", profile="tiny", status="ready",
                                     n_images=1, store_path=f"support/{key[:2]}/{key}", **fields)
    rel = f"support/{key[:2]}/{key}"
    paths = {name: f"{rel}/0000_{name}.png" for name in ("image", "overlay", *LAYERS)}
    for value in paths.values():
        _png(media / value)
    _png(media / f"{rel}/0000_inst_0.png")
    image = SupportImage.objects.create(support_set=sset, index=0, instances=[f"{rel}/0000_inst_0.png"], **paths)
    PrototypeBank.objects.create(support_set=sset, extractor="dino", key=key[::-1])
    return sset, image


@pytest.fixture
def world(user: Any, media_root: Path, tmp_path: Path) -> dict[str, Any]:
    """alice's private vocabulary (a class with her own uploads), run, segmentation and uploaded dataset, a support
    set of her uploads (used by her class), a curated set (used by her run) and a generated set (shared)."""
    from ovdiff_web.predictions.models import LegacySegmentation
    from ovdiff_web.core.models import Dataset, SupportSet, Vocabulary, VocabularyClass

    vocab = Vocabulary.objects.create(name="alice-v", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat", user_support_dir="user_support/0/up")
    cls.user_support_dir = f"user_support/{cls.pk}/up"
    cls.save()
    _png(media_root / cls.user_support_dir / "000.png")
    run = make_finished_run(make_demo_dataset(tmp_path / "demo", owner=user), user, media_root)
    (media_root / f"runs/{run.pk}/metrics.json").write_text("{}")
    uploads, upload_image = _support_set(media_root, "u" * 64, source=SupportSet.Source.USER, restricted=True)
    uploads.classes.add(cls)
    curated, curated_image = _support_set(media_root, "c" * 64, restricted=True)
    curated.runs.add(run)
    generated, generated_image = _support_set(media_root, "g" * 64)
    token = "a" * 32
    LegacySegmentation.objects.create(token=token, user=user, profile="tiny", class_names=["cat"],
                                      status="succeeded")
    _png(media_root / f"segment/{token}/labels.png")
    uploaded = media_root / "datasets" / "alice-zip"
    _png(uploaded / "images" / "a.png")
    Dataset.objects.create(name="alice-zip", format="folder", source=Dataset.Source.UPLOAD, root=str(uploaded),
                           created_by=user, status=Dataset.Status.READY)
    return {"vocab": vocab, "cls": cls, "run": run, "uploads": (uploads, upload_image),
            "curated": (curated, curated_image), "generated": (generated, generated_image), "token": token}


def _file_urls(image: Any) -> list[str]:
    """Every route that serves one support image: its PNGs through /files/ and its overlay layers."""
    files = [image.image, image.overlay, *(getattr(image, layer) for layer in LAYERS), *image.instances]
    return ([f"/files/{rel}" for rel in files] + [f"/support-images/{image.pk}/{layer}.png" for layer in LAYERS]
            + [f"/support-images/{image.pk}/instance/0.png"])


def _private_urls(world: dict[str, Any]) -> dict[str, list[str]]:
    """alice's files by the object whose sharing decides who reads them."""
    run, token = world["run"], world["token"]
    return {
        "vocab": [f"/files/{world['cls'].user_support_dir}/000.png", *_file_urls(world["uploads"][1])],
        "run": [f"/files/{run.image_results.first().prediction}", f"/files/runs/{run.pk}/metrics.json",
                *_file_urls(world["curated"][1])],
        "owner": [f"/files/segment/{token}/labels.png", "/files/datasets/alice-zip/images/a.png"],
    }


def _media_urls(world: dict[str, Any]) -> list[str]:
    return [url.replace("/files/", "/media/", 1) for urls in _private_urls(world).values() for url in urls
            if url.startswith("/files/")]


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _codes(client: Client, urls: list[str]) -> dict[str, int]:
    return {url: client.get(url).status_code for url in urls}


@pytest.mark.slow  # seconds (subprocesses, every route or file kind): make test, not test-fast
def test_every_file_kind_follows_its_object(world: dict[str, Any], user: Any, other_user: Any, debug: bool) -> None:
    from ovdiff_web.accounts import access

    private = _private_urls(world)
    every = [url for urls in private.values() for url in urls]
    assert len(every) == 25
    owner, bob, anonymous = _signed_in(user), _signed_in(other_user), Client()
    assert set(_codes(owner, every).values()) == {200}, _codes(owner, every)
    assert set(_codes(bob, every).values()) == {404}, _codes(bob, every)
    assert set(_codes(anonymous, every).values()) == {404}, _codes(anonymous, every)
    # nothing under /media/, for anyone, in DEBUG or not
    for client in (owner, bob, anonymous):
        assert set(_codes(client, _media_urls(world)).values()) == {404}
    # a generated set from a class text alone stays shared with every signed-in user (not anonymous ones)
    generated = _file_urls(world["generated"][1])
    assert set(_codes(bob, generated).values()) == {200}
    assert set(_codes(anonymous, generated).values()) == {404}
    # sharing the vocabulary / the run opens exactly their files; unsharing closes them again
    for key in ("vocab", "run"):
        access.share(world[key], visibility="shared", users=[other_user])
        assert set(_codes(bob, private[key]).values()) == {200}, (key, _codes(bob, private[key]))
        access.share(world[key], visibility="private", users=[])
        assert set(_codes(bob, private[key]).values()) == {404}, (key, _codes(bob, private[key]))
        access.share(world[key], visibility="public")
        assert set(_codes(bob, private[key]).values()) == {200}, key
        assert set(_codes(anonymous, private[key]).values()) == {404}, key
        access.share(world[key], visibility="private")
        assert set(_codes(bob, private[key]).values()) == {404}, key
    assert set(_codes(bob, private["owner"]).values()) == {404}


def test_support_set_api_follows_the_same_rule(world: dict[str, Any], user: Any, other_user: Any) -> None:
    from ovdiff_web.accounts import access

    def api_for(person: Any) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=person).key}")
        return client

    owner, bob = api_for(user), api_for(other_user)
    uploads, curated, generated = world["uploads"][0], world["curated"][0], world["generated"][0]

    def listed(client: APIClient, route: str, field: str) -> set[Any]:
        return {row[field] for row in client.get(route).json()["results"]}

    assert listed(owner, "/api/support-sets/", "key") == {uploads.key, curated.key, generated.key}
    assert listed(bob, "/api/support-sets/", "key") == {generated.key}
    assert listed(bob, "/api/banks/", "support_set") == {generated.pk}
    for sset in (uploads, curated):
        for route in (f"/api/support-sets/{sset.pk}/", f"/api/support-sets/{sset.pk}/images/",
                      f"/api/banks/{sset.banks.get().pk}/"):
            assert owner.get(route).status_code == 200, route
            assert bob.get(route).status_code == 404, route
            assert APIClient().get(route).status_code in (401, 403), route
    access.share(world["run"], visibility="shared", users=[other_user])
    assert listed(bob, "/api/support-sets/", "key") == {curated.key, generated.key}
    access.share(world["run"], visibility="private", users=[])
    assert listed(bob, "/api/support-sets/", "key") == {generated.key}


def test_class_page_lists_only_its_own_restricted_sets(world: dict[str, Any], other_user: Any) -> None:
    """bob's class "cat" never shows alice's upload set (same name, same text) on its page."""
    from ovdiff_web.core.models import Vocabulary, VocabularyClass
    from ovdiff_web.support.images import support_sets_for

    mine = VocabularyClass.objects.create(vocabulary=Vocabulary.objects.create(name="bob-v", owner=other_user),
                                          name="cat")
    assert {s.key for s in support_sets_for(world["cls"])} == {"u" * 64, "g" * 64}
    assert {s.key for s in support_sets_for(mine)} == {"g" * 64}
    html = _signed_in(other_user).get(f"/classes/{mine.pk}/").content.decode()
    assert "u" * 20 not in html and f"/support-images/{world['uploads'][1].pk}/" not in html


def test_pages_show_images_through_files_routes(world: dict[str, Any], user: Any) -> None:
    """The class page's support images (her uploads, the set built from them, the shared set) are /files/ URLs
    that answer 200 to the owner: pages keep showing images without any /media/ route."""
    import re

    owner = _signed_in(user)
    html = owner.get(f"/classes/{world['cls'].pk}/").content.decode()
    sources = set(re.findall(r'<img[^>]* src="([^"]+)"', html))
    assert any("u" * 64 in s for s in sources) and any("g" * 64 in s for s in sources)
    assert any(world["cls"].user_support_dir in s for s in sources)
    assert all(s.startswith(("/files/", "/support-images/")) for s in sources), sources
    assert set(_codes(owner, sorted(sources)).values()) == {200}
