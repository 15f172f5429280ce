"""The support-mask editor on the dashboard and the API: the editor page and the mask it starts from, saving a
painted mask as a new support version with who and when (page and API), a stale version (409), refused masks (400,
nothing stored), who may open and save it (owner / shared with write; read-only 403, a second user 404, anonymous
redirected or refused), and a rebuild on the worker task that builds the edited mask."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from ovdiff_web.accounts import access
from ovdiff_web.accounts.audit import AuditEntry
from ovdiff_web.core.models import SupportCuration, SupportImage, SupportSet, Vocabulary, VocabularyClass
from ovdiff_web.support import curation
from tests.ui.test_accessibility_markup import _check

pytestmark = pytest.mark.django_db

H, W = 30, 40


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _write(media: Path, rel: str, array: np.ndarray) -> str:
    (media / rel).parent.mkdir(parents=True, exist_ok=True)
    (media / rel).write_bytes(_png(array))
    return rel


@pytest.fixture
def cat(user: Any, media_root: Path) -> VocabularyClass:
    """alice's class "cat" with one support set of two images recorded as a worker would (files under MEDIA_ROOT):
    image 0's foreground is its left half, its proposed instance mask the top half."""
    from engine.support.curation import image_id

    vocab = Vocabulary.objects.create(name="pets", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat", order=1)
    sset = SupportSet.objects.create(key="e" * 64, class_name="cat", prompt="cat", profile="tiny", source="user",
                                     status="ready", n_images=2, restricted=True)
    sset.classes.add(cls)
    rng = np.random.default_rng(0)
    for index in range(2):
        pixels = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
        fg = np.zeros((H, W), np.uint8)
        fg[:, : W // 2] = 255
        inst = np.zeros((H, W), np.uint8)
        inst[: H // 2] = 255
        rel = f"support/ee/{sset.key}/{index:04d}"
        SupportImage.objects.create(support_set=sset, index=index, content_id=image_id(pixels),
                                    image=_write(media_root, f"{rel}_image.png", pixels),
                                    fg_mask=_write(media_root, f"{rel}_fg_mask.png", fg),
                                    instances=[_write(media_root, f"{rel}_inst_0.png", inst)])
    return cls


def _mask() -> np.ndarray:
    painted = np.zeros((H, W), np.uint8)
    painted[5:20, 10:30] = 255
    return painted


def _upload(array: np.ndarray | bytes, name: str = "mask.png") -> SimpleUploadedFile:
    raw = array if isinstance(array, bytes) else _png(array)
    return SimpleUploadedFile(name, raw, content_type="image/png")


def _page_save(client: Client, cls: VocabularyClass, image: SupportImage, mask: Any, version: Any = None) -> Any:
    body = {"mask": _upload(mask)} if mask is not None else {}
    body["version"] = cls.version if version is None else version
    return client.post(f"/classes/{cls.pk}/support-images/{image.pk}/edit/", body, HTTP_ACCEPT="application/json")


def _grey(response: Any) -> np.ndarray:
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(b"".join(getattr(response, "streaming_content", [response.content])))))


def test_editor_page_starts_from_the_foreground_in_use(ui: Any, cat: VocabularyClass) -> None:
    image = SupportImage.objects.get(support_set__classes=cat, index=0)
    page = ui.get(f"/classes/{cat.pk}/").content.decode()
    assert page.count("data-edit-mask") == 2 and f"/classes/{cat.pk}/support-images/{image.pk}/edit/" in page
    editor = ui.get(f"/classes/{cat.pk}/support-images/{image.pk}/edit/")
    html = editor.content.decode()
    assert editor.status_code == 200 and f'data-width="{W}"' in html and f'data-height="{H}"' in html
    assert "mask_editor.js" in html and "http" not in html.split("mask_editor.js")[0].rsplit("src=", 1)[1]
    assert f'name="version" value="{cat.version}" data-mask-version' in html and "the proposer" in html
    _check(html)  # unique ids, working aria-describedby
    start = _grey(ui.get(f"/classes/{cat.pk}/support-images/{image.pk}/current-mask.png"))
    assert start.shape == (H, W) and set(np.unique(start)) == {0, 255} and start[:, : W // 2].all()
    # a proposed mask chosen (not built yet): the editor starts from it
    curation.choose_mask(cat, image.content_id, "instance:0")
    assert (_grey(ui.get(f"/classes/{cat.pk}/support-images/{image.pk}/current-mask.png")) ==
            np.repeat([[255], [0]], H // 2, axis=0) * np.ones((1, W), int)).all()
    assert "proposed mask 0" in ui.get(f"/classes/{cat.pk}/support-images/{image.pk}/edit/").content.decode()
    other = VocabularyClass.objects.create(vocabulary=cat.vocabulary, name="dog", order=2)
    assert ui.get(f"/classes/{other.pk}/support-images/{image.pk}/edit/").status_code == 404, "not dog's image"


def test_a_saved_mask_is_a_new_version_with_who_and_when(ui: Any, cat: VocabularyClass, user: Any,
                                                         media_root: Path) -> None:
    image = SupportImage.objects.get(support_set__classes=cat, index=0)
    saved = _page_save(ui, cat, image, _mask())
    assert saved.status_code == 200, saved.content
    answer = saved.json()
    assert answer["ok"] and "mask edited by alice" in answer["message"] and answer["support_version"] == 1
    version = SupportCuration.objects.get(vocab_class=cat, number=1)
    choice = version.masks[image.content_id]
    assert choice.startswith("painted:") and choice == answer["choice"]
    assert version.created_by == user and version.created_at and version.summary == "image 0: mask edited by alice"
    stored = np.asarray(Image.open(media_root / "painted_masks" / f"{choice[8:]}.png"))
    assert (stored == _mask()).all(), "stored exactly as painted"
    entry = AuditEntry.objects.get(action="support_mask_edit")
    assert entry.user == user and entry.username == "alice" and entry.object_id == str(cat.pk) and entry.at
    assert entry.changes == {"support_version": [0, 1], f"mask:{image.content_id[:10]}": ["", choice]}
    cat.refresh_from_db()
    assert cat.support_version == 1 and cat.snapshot()["curation"]["masks"] == {image.content_id: choice}
    assert (_grey(ui.get(f"/classes/{cat.pk}/support-images/{image.pk}/current-mask.png")) == _mask()).all()
    page = ui.get(f"/classes/{cat.pk}/").content.decode()
    assert "edited mask" in page and "mask edited by alice" in page and "data-rebuild-needed" in page
    # another choice, then the edited mask again from the card's list; an unknown edited mask is refused
    curation.choose_mask(cat, image.content_id, "instance:0")
    curation.choose_mask(cat, image.content_id, choice)
    assert curation.current(cat).masks[image.content_id] == choice
    with pytest.raises(curation.CurationRefused):
        curation.choose_mask(cat, image.content_id, "painted:" + "0" * 24)
    # the API takes the next edit; the page form without script (no JSON) redirects with a message
    cat.refresh_from_db()
    again = _mask()
    again[25:, :] = 255
    api = ui.post(f"/api/classes/{cat.pk}/support/mask/", {"image": image.content_id, "mask": _upload(again),
                                                           "expected_version": cat.version})
    assert api.status_code == 200, api.content
    assert api.json()["support_version"] == 4 and api.json()["choice"] != choice
    cat.refresh_from_db()
    assert api.json()["version"] == cat.version
    plain = ui.post(f"/classes/{cat.pk}/support-images/{image.pk}/edit/", {"mask": _upload(_mask()),
                                                                         "version": cat.version})
    assert plain.status_code == 302 and plain["Location"].endswith(f"/classes/{cat.pk}/#review")


def test_a_stale_version_is_a_409_and_nothing_changes(ui: Any, cat: VocabularyClass, media_root: Path) -> None:
    image = SupportImage.objects.get(support_set__classes=cat, index=0)
    loaded = cat.version
    curation.exclude(cat, SupportImage.objects.get(support_set__classes=cat, index=1).content_id, "a dog")
    stale = _page_save(ui, cat, image, _mask(), version=loaded)
    assert stale.status_code == 409 and "not saved" in stale.json()["message"]
    api = ui.post(f"/api/classes/{cat.pk}/support/mask/", {"image": image.content_id, "mask": _upload(_mask()),
                                                           "expected_version": loaded})
    assert api.status_code == 409 and api.json()["current_version"] == cat.version
    assert SupportCuration.objects.filter(vocab_class=cat).count() == 1
    assert not (media_root / "painted_masks").exists(), "a refused save writes no file"


def test_a_bad_mask_is_a_400_naming_it_and_nothing_changes(ui: Any, cat: VocabularyClass, media_root: Path) -> None:
    image = SupportImage.objects.get(support_set__classes=cat, index=0)
    soft = _mask()
    soft[0, 0] = 128
    jpeg = io.BytesIO()
    Image.fromarray(_mask()).save(jpeg, format="JPEG")
    cases = [(np.zeros((H, W + 1), np.uint8), f"{W + 1}x{H} pixels; the support image is {W}x{H}"),
             (soft, "other than 0 and 255"), (b"not an image", "not a readable PNG"),
             (jpeg.getvalue(), "not a PNG"), (np.zeros((H, W), np.uint8), "no foreground"),
             (None, "multipart field 'mask'")]
    for mask, reason in cases:
        page = _page_save(ui, cat, image, mask)
        assert page.status_code == 400 and reason in page.json()["message"] and "mask" in page.json()["message"]
    for mask, reason in cases[:5]:
        api = ui.post(f"/api/classes/{cat.pk}/support/mask/", {"image": image.content_id, "mask": _upload(mask)})
        assert api.status_code == 400 and reason in api.json()["mask"][0], api.content
    unknown = ui.post(f"/api/classes/{cat.pk}/support/mask/", {"image": "f" * 32, "mask": _upload(_mask())})
    assert unknown.status_code == 400 and "no support image" in unknown.json()["image"][0]
    missing = ui.post(f"/api/classes/{cat.pk}/support/mask/", {"image": image.content_id})
    assert missing.status_code == 400 and "mask" in missing.json()
    version = cat.version
    cat.refresh_from_db()
    assert cat.version == version and not SupportCuration.objects.exists()
    assert not (media_root / "painted_masks").exists()


def test_only_those_who_may_change_the_class_open_and_save_the_editor(cat: VocabularyClass, client: Client,
                                                                      other_user: Any, media_root: Path) -> None:
    image = SupportImage.objects.get(support_set__classes=cat, index=0)
    editor = f"/classes/{cat.pk}/support-images/{image.pk}/edit/"
    mask_png = f"/classes/{cat.pk}/support-images/{image.pk}/current-mask.png"
    api = f"/api/classes/{cat.pk}/support/mask/"

    def tries(who: Client) -> tuple[int, int, int, int]:
        return (who.get(editor).status_code, _page_save(who, cat, image, _mask()).status_code,
                who.get(mask_png).status_code,
                who.post(api, {"image": image.content_id, "mask": _upload(_mask())}).status_code)

    anonymous = tries(client)
    assert anonymous[:3] == (302, 302, 302) and anonymous[3] in (401, 403)
    assert client.get(editor)["Location"].startswith("/login/")
    bob = Client()
    bob.force_login(other_user)
    assert tries(bob) == (404, 404, 404, 404), "a second user does not learn the class exists"
    access.share(cat.vocabulary, visibility="public")
    assert tries(bob) == (403, 403, 200, 403), "a read-only viewer sees the mask but may not change it"
    assert not SupportCuration.objects.exists() and not (media_root / "painted_masks").exists()
    page = bob.get(f"/classes/{cat.pk}/").content.decode()
    assert "data-edit-mask" not in page
    access.share(cat.vocabulary, visibility="shared", users=[other_user])
    assert bob.get(editor).status_code == 200
    saved = _page_save(bob, cat, image, _mask())
    assert saved.status_code == 200 and "mask edited by bob" in saved.json()["message"]


def test_a_rebuild_builds_the_edited_mask(ui: Any, user: Any, media_root: Path, settings: Any) -> None:
    """The worker task builds the class's current version: the edited image's foreground is the painted mask,
    its background the eroded rest, and the other images keep theirs (tiny profile, real engine)."""
    from ovdiff_web.common import engine_bridge
    from ovdiff_web.support.artifacts import record_artifacts
    from tasks.support import regenerate_class

    settings.OVDIFF_PROFILE = "tiny"
    vocab = Vocabulary.objects.create(name="pets", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat", order=1)
    engine_bridge.ENGINE_CACHE.update(store=None, ovdiffs={})  # this test's store
    ovd = engine_bridge.ovdiff("tiny")
    spec = cls.to_spec()
    before = ovd.bank_keys(spec)
    record_artifacts("tiny", ovd.support_set(spec), ovd.banks(spec), spec=spec, class_id=cls.pk)
    images = list(curation.review_set(cls).images.all())
    target = images[1]
    height, width = np.asarray(Image.open(media_root / target.image)).shape[:2]
    painted = np.zeros((height, width), np.uint8)
    painted[height // 4: height // 2, width // 3: width - 2] = 255
    saved = ui.post(f"/api/classes/{cls.pk}/support/mask/", {"image": target.content_id, "mask": _upload(painted),
                                                             "expected_version": cls.version})
    assert saved.status_code == 200, saved.content
    out = regenerate_class.apply(args=(cls.pk, "tiny", engine_bridge.build_config("tiny").to_dict())).get()
    cls.refresh_from_db()
    version = curation.current(cls)
    assert version.support_key == out["support_key"] and out["support_version"] == version.number
    assert ovd.bank_keys(cls.to_spec()) != before, "the edited mask is another support set and bank"
    shown = curation.review_set(cls)
    assert shown.key == out["support_key"] and curation.is_built(cls, shown)
    rebuilt = {im.content_id: im for im in shown.images.all()}
    edited = rebuilt[target.content_id]
    assert edited.mask_choice == saved.json()["choice"]
    assert (np.asarray(Image.open(media_root / edited.fg_mask)) == painted).all()
    bg = np.asarray(Image.open(media_root / edited.bg_mask)) > 0
    assert not (bg & (painted > 0)).any() and bg[0, 0]
    for old in images:
        if old.content_id != target.content_id:
            assert (np.asarray(Image.open(media_root / rebuilt[old.content_id].fg_mask)) ==
                    np.asarray(Image.open(media_root / old.fg_mask))).all(), "the other images keep their masks"
    assert (_grey(ui.get(f"/classes/{cls.pk}/support-images/{edited.pk}/current-mask.png")) == painted).all()
