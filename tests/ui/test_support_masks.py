"""Support masks in the service: images uploaded with their masks (API, class page, zip) are used exactly as the
foreground when the class is rebuilt and marked "given by user"; refused uploads name the file and keep nothing;
one thumbnail per proposed mask, taken by one click; a dataset's ground truth as support images with their exact
masks; a second user gets 404 and anonymous callers 401/403 on every new route."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from ovdiff_web.common import engine_bridge
from ovdiff_web.core.models import Dataset, SupportCuration, SupportSet, Vocabulary, VocabularyClass
from ovdiff_web.support import curation
from ovdiff_web.support.artifacts import record_artifacts

pytestmark = pytest.mark.django_db


def SMALL() -> dict[str, Any]:  # noqa: N802 - the tiny profile, small and quick: the service is under test
    config = engine_bridge.build_config("tiny").to_dict()
    config["support"].update(n_images=2, num_inference_steps=4)
    return config


@pytest.fixture
def built(user: Any, media_root: Any, settings: Any) -> VocabularyClass:
    """A class of alice's ("brick", one of the demo dataset's classes) whose tiny-profile support set was built."""
    settings.OVDIFF_PROFILE = "tiny"
    vocab = Vocabulary.objects.create(name="walls", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="brick", order=1)
    engine_bridge.ENGINE_CACHE.update(store=None, ovdiffs={})
    ovd = engine_bridge.ovdiff("tiny", SMALL())
    spec = cls.to_spec()
    record_artifacts("tiny", ovd.support_set(spec), ovd.banks(spec), spec=spec, class_id=cls.pk)
    return cls


@pytest.fixture
def plain(user: Any, media_root: Any) -> VocabularyClass:
    """A class of alice's with nothing built (uploads need no support set)."""
    return VocabularyClass.objects.create(vocabulary=Vocabulary.objects.create(name="walls", owner=user),
                                          name="brick", order=1)


@pytest.fixture
def bob(django_user_model: Any) -> Client:
    other = Client()
    other.force_login(django_user_model.objects.create_user("bob", password="pw-bob-123"))
    return other


def _png(array: np.ndarray, name: str, mode: str | None = None, palette: list[int] | None = None) -> Any:
    img = Image.fromarray(array, mode) if mode else Image.fromarray(array)
    if palette is not None:
        img.putpalette(palette)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def _photo(seed: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (size, size, 3), dtype=np.uint8)


def _mask(size: int = 32) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    m[6:20, 8:26] = 255
    return m


def _folders(cls: VocabularyClass, media_root: Path) -> list[Path]:
    parent = media_root / "user_support" / str(cls.pk)
    return sorted(parent.iterdir()) if parent.is_dir() else []


def _upload(client: Any, cls: VocabularyClass, **files: Any) -> Any:
    return client.post(f"/api/classes/{cls.pk}/support/images/", files)


def test_api_upload_with_masks_then_a_rebuild_uses_the_given_mask_exactly(ui: Any, built: VocabularyClass,
                                                                          media_root: Path) -> None:
    from engine.support.curation import image_id
    from tasks.support import regenerate_class

    given, plain = _photo(1), _photo(2)
    palette_mask = (_mask() > 0).astype(np.uint8) * 3  # a palette PNG: any index but 0 is foreground
    answer = _upload(ui, built, images=[_png(given, "cat1.png"), _png(plain, "cat2.jpg")],
                     masks=[_png(palette_mask, "cat1.png", "P", [0, 0, 0] * 3 + [200, 10, 10] * 253)])
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["images"] == 2 and body["masks_given"] == 1 and body["support_version"] == 1
    version = SupportCuration.objects.get(vocab_class=built, number=1)
    assert version.summary == "added 2 images (1 with its mask)" and version.created_by.username == "alice"
    folder = media_root / version.extra_dirs[0]
    assert sorted(p.name for p in folder.iterdir()) == [".masks.json", "000.png", "001.png", "masks"]
    assert json.loads((folder / ".masks.json").read_text())["given"] == {image_id(given): "uploaded with cat1.png"}

    out = regenerate_class.apply(args=(built.pk, "tiny", SMALL())).get()
    built.refresh_from_db()
    shown = curation.review_set(built)
    assert shown.key == out["support_key"]
    rows = {im.content_id: im for im in shown.images.all()}
    mine, other = rows[image_id(given)], rows[image_id(plain)]
    stored = np.asarray(Image.open(media_root / mine.fg_mask))
    assert np.array_equal(stored > 0, _mask() > 0), "the rebuild uses the given mask exactly"
    assert mine.instances == [], "no MaskCut for an image given its mask"
    assert other.instances, "an image without a mask still gets MaskCut proposals"
    review = {i["image"]["content_id"]: i for i in ui.get(f"/api/classes/{built.pk}/support/").json()["images"]}
    assert review[mine.content_id]["mask_source"] == "given"
    assert review[other.content_id]["mask_source"] == "proposed"
    page = ui.get(f"/classes/{built.pk}/").content.decode()
    assert page.count('data-mask-source="given"') == 1 and "given by user" in page
    assert "proposed by MaskCut" in page


def test_zip_in_the_cli_layout(ui: Any, plain: VocabularyClass, media_root: Path) -> None:
    built = plain
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, array in (("images/a.png", _photo(3)), ("images/b.png", _photo(4)), ("masks/a.png", _mask())):
            png = io.BytesIO()
            Image.fromarray(array).save(png, "PNG")
            zf.writestr(name, png.getvalue())
    answer = _upload(ui, built, archive=SimpleUploadedFile("set.zip", buf.getvalue(), content_type="application/zip"))
    assert answer.status_code == 201, answer.content
    assert answer.json()["masks_given"] == 1 and answer.json()["images"] == 2


def _bad_zip() -> Any:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        png = io.BytesIO()
        Image.fromarray(_photo(5)).save(png, "PNG")
        zf.writestr("images/a.png", png.getvalue())
        mask = io.BytesIO()
        Image.fromarray(_mask()).save(mask, "PNG")
        zf.writestr("masks/typo.png", mask.getvalue())
    return SimpleUploadedFile("set.zip", buf.getvalue(), content_type="application/zip")


BAD = {
    "wrong size": (lambda: {"masks": [_png(_mask(16), "cat1.png")]}, "masks/cat1.png", "16x16"),
    "not an image": (lambda: {"masks": [SimpleUploadedFile("cat1.png", b"not a png")]}, "masks/cat1.png",
                     "not a readable mask"),
    "grey photo": (lambda: {"masks": [_png(np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1)), "cat1.png")]},
                   "masks/cat1.png", "not a mask"),
    "colour photo": (lambda: {"masks": [_png(_photo(9), "cat1.png")]}, "masks/cat1.png", "not a mask"),
    "all zero": (lambda: {"masks": [_png(np.zeros((32, 32), np.uint8), "cat1.png")]}, "masks/cat1.png",
                 "empty mask"),
    "mask without image": (lambda: {"masks": [_png(_mask(), "dog.png")]}, "masks/dog.png", "no image"),
    "zip mask without image": (lambda: {"archive": _bad_zip()}, "masks/typo.png", "no image"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_upload_is_a_400_naming_the_file_and_keeps_nothing(ui: Any, plain: VocabularyClass,
                                                                 media_root: Path, case: str) -> None:
    built = plain
    make, name, reason = BAD[case]
    files = make()
    if "archive" not in files:
        files["images"] = [_png(_photo(1), "cat1.png"), _png(_photo(2), "cat2.png")]
    answer = _upload(ui, built, **files)
    assert answer.status_code == 400, answer.content
    detail = answer.json()["detail"]
    assert name in detail and reason in detail, detail
    built.refresh_from_db()
    assert built.support_version == 0 and not SupportCuration.objects.exists()
    assert _folders(built, media_root) == [], "nothing kept, not even a staging folder"
    assert not list((media_root / "tmp").glob("*")) if (media_root / "tmp").is_dir() else True


def test_class_page_upload_with_masks_and_a_refusal_at_the_form(ui: Any, plain: VocabularyClass,
                                                                media_root: Path) -> None:
    built = plain
    refused = ui.post(f"/classes/{built.pk}/", {"images": [_png(_photo(1), "x.png")],
                                                "masks": [_png(_mask(8), "x.png")], "add_to_set": "on"})
    assert refused.status_code == 400
    assert "masks/x.png" in refused.content.decode() and "data-upload-refused" in refused.content.decode()
    assert _folders(built, media_root) == []
    done = ui.post(f"/classes/{built.pk}/", {"images": [_png(_photo(1), "x.png")], "masks": [_png(_mask(), "x.png")],
                                             "add_to_set": "on"}, follow=True)
    assert done.status_code == 200 and "1 with its mask" in done.content.decode()
    replaced = ui.post(f"/classes/{built.pk}/", {"images": [_png(_photo(6), "y.png")],
                                                 "masks": [_png(_mask(), "y.png")]})
    assert replaced.status_code == 302
    built.refresh_from_db()
    assert built.user_support_dir and (media_root / built.user_support_dir / "masks" / "000.png").is_file()


def test_one_thumbnail_per_proposed_mask_and_one_click_takes_it(ui: Any, built: VocabularyClass,
                                                                bob: Client) -> None:
    image = next(im for im in curation.review_set(built).images.all() if len(im.instances) >= 1)
    page = ui.get(f"/classes/{built.pk}/").content.decode()
    card = page.split(f'data-image="{image.content_id}"')[1].split("</figure>")[0]
    assert card.count("data-take-proposal=") == len(image.instances)
    thumbs = [seg.split('src="')[-1].split('"')[0] for seg in card.split("data-proposal-thumb=")[:-1]]
    assert len(thumbs) == len(image.instances) and all(t.startswith("/files/support/") for t in thumbs)
    first = ui.get(thumbs[0])
    assert first.status_code == 200 and first["Content-Type"] == "image/png"
    shown = np.asarray(Image.open(io.BytesIO(b"".join(first.streaming_content))))
    assert shown.ndim == 3 and max(shown.shape[:2]) <= 160
    assert bob.get(thumbs[0]).status_code == 200, "a set generated from the class text alone is shared"
    SupportSet.objects.filter(pk=image.support_set_id).update(restricted=True)  # as an uploaded or curated set
    assert bob.get(thumbs[0]).status_code == 404 and ui.get(thumbs[0]).status_code == 200
    assert Client().get(thumbs[0]).status_code == 404, "anonymous: a file, not a page (no login redirect)"
    j = len(image.instances) - 1
    taken = ui.post(f"/classes/{built.pk}/curate/", {"action": "mask", "image": image.content_id,
                                                     "choice": f"instance:{j}", "version": built.version})
    assert taken.status_code == 302
    built.refresh_from_db()
    assert curation.current(built).masks == {image.content_id: f"instance:{j}"}
    page = ui.get(f"/classes/{built.pk}/").content.decode()
    card = page.split(f'data-image="{image.content_id}"')[1].split("</figure>")[0]
    assert f'data-take-proposal="{j}" aria-pressed="true"' in card and f"mask {j} (in use)" in card


def test_ground_truth_from_a_dataset(ui: Any, built: VocabularyClass, dataset: Dataset, media_root: Path,
                                     bob: Client, django_user_model: Any) -> None:
    from engine.support.curation import image_id
    from ovdiff_web.datasets.preview import image_and_labels

    ids = list(dataset.image_ids)
    with_brick = [i for i in ids if (image_and_labels(dataset, i)[1] == 1).sum() >= 16]
    without = [i for i in ids if (image_and_labels(dataset, i)[1] == 1).sum() == 0]
    url = f"/api/classes/{built.pk}/support/ground-truth/"
    answer = ui.post(url, {"dataset": dataset.pk, "image_ids": with_brick[:1], "crop": False},
                     content_type="application/json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["masks_given"] == 1 and "ground truth of dataset demo (whole images)" in answer.json()["summary"]
    image, labels = image_and_labels(dataset, with_brick[0])
    built.refresh_from_db()
    folder = media_root / curation.current(built).extra_dirs[0]
    assert np.array_equal(np.asarray(Image.open(folder / "masks" / "000.png")) > 0, labels == 1)
    assert image_id(image) in json.loads((folder / ".masks.json").read_text())["given"]
    cropped = ui.post(url, {"dataset": dataset.pk, "image_ids": with_brick[:1]}, content_type="application/json")
    assert cropped.status_code == 201
    built.refresh_from_db()
    folder = media_root / curation.current(built).extra_dirs[1]
    small = np.asarray(Image.open(folder / "masks" / "000.png")) > 0
    assert small.sum() == (labels == 1).sum() and small.shape[0] <= labels.shape[0]

    before = SupportCuration.objects.count()
    if without:
        absent = ui.post(url, {"dataset": dataset.pk, "image_ids": [without[0]]}, content_type="application/json")
        assert absent.status_code == 400 and without[0] in absent.json()["detail"]
    other = VocabularyClass.objects.create(vocabulary=built.vocabulary, name="cat", order=2)
    not_a_class = ui.post(f"/api/classes/{other.pk}/support/ground-truth/", {"dataset": dataset.pk,
                          "image_ids": ids[:1]}, content_type="application/json")
    assert not_a_class.status_code == 400 and "not one of the classes" in not_a_class.json()["detail"]
    unknown = ui.post(url, {"dataset": dataset.pk, "image_ids": ["nope"]}, content_type="application/json")
    assert unknown.status_code == 400 and "nope" in unknown.json()["detail"]
    assert SupportCuration.objects.count() == before
    # a dataset alice may not read (bob's, private) is refused like one that does not exist
    bobs = Dataset.objects.create(name="bobs", format="folder", source=Dataset.Source.SERVER, root=dataset.root,
                                  split="val", status=Dataset.Status.READY, image_ids=ids,
                                  created_by=django_user_model.objects.get(username="bob"))
    hidden = ui.post(url, {"dataset": bobs.pk, "image_ids": ids[:1]}, content_type="application/json")
    assert hidden.status_code == 400 and "no dataset you may read" in hidden.json()["detail"]
    assert SupportCuration.objects.count() == before
    # the class page form
    page = ui.post(f"/classes/{built.pk}/ground-truth/", {"dataset": dataset.pk, "image_ids": with_brick[0],
                                                          "crop": "crop"}, follow=True)
    assert page.status_code == 200 and "ground truth of dataset demo (cropped to the region)" in page.content.decode()
    refused = ui.post(f"/classes/{other.pk}/ground-truth/", {"dataset": dataset.pk, "image_ids": ids[0],
                                                             "crop": "crop"})
    assert refused.status_code == 400 and "not one of the classes" in refused.content.decode()


def test_a_second_user_and_anonymous_callers_change_nothing(bob: Client, plain: VocabularyClass, client: Any,
                                                            dataset: Dataset, media_root: Path) -> None:
    built = plain
    files = {"images": [_png(_photo(1), "a.png")], "masks": [_png(_mask(), "a.png")]}
    assert bob.post(f"/api/classes/{built.pk}/support/images/", files).status_code == 404
    gt = {"dataset": dataset.pk, "image_ids": list(dataset.image_ids[:1])}
    assert bob.post(f"/api/classes/{built.pk}/support/ground-truth/", gt,
                    content_type="application/json").status_code == 404
    assert bob.post(f"/classes/{built.pk}/ground-truth/", {**gt, "crop": "crop"}).status_code == 404
    anon = Client()
    files = {"images": [_png(_photo(1), "a.png")], "masks": [_png(_mask(), "a.png")]}
    assert anon.post(f"/api/classes/{built.pk}/support/images/", files).status_code in (401, 403)
    assert anon.post(f"/api/classes/{built.pk}/support/ground-truth/", gt,
                     content_type="application/json").status_code in (401, 403)
    assert anon.post(f"/classes/{built.pk}/ground-truth/", {**gt, "crop": "crop"}).status_code == 302
    assert not SupportCuration.objects.exists() and _folders(built, media_root) == []


def test_api_upload_can_replace_so_a_profile_without_a_generator_runs(ui: Any, plain: VocabularyClass,
                                                                        media_root: Path, user: Any) -> None:
    """The probe: images added through the API did not count for dinov2-small (no generator), which needs the
    class's own images; ``mode=replace`` does what the dashboard's upload does by default, and the refusal says so."""
    from ovdiff_web.runs.services import RunInputError, check_support_available

    with pytest.raises(RunInputError, match="mode=replace"):
        check_support_available("dinov2-small", [plain.snapshot()])
    assert _upload(ui, plain, images=[_png(_photo(1), "a.png")], mode="sideways").status_code == 400
    assert _folders(plain, media_root) == [] and not VocabularyClass.objects.get(pk=plain.pk).user_support_dir
    answer = _upload(ui, plain, images=[_png(_photo(1), "a.png"), _png(_photo(2), "b.png")],
                     masks=[_png(_mask(), "a.png")], mode="replace")
    assert answer.status_code == 201, answer.content
    assert answer.json()["images"] == 2 and answer.json()["masks_given"] == 1
    plain.refresh_from_db()
    assert plain.user_support_dir and _folders(plain, media_root), sorted(str(p) for p in media_root.rglob("*"))
    check_support_available("dinov2-small", [plain.snapshot()])  # no refusal now


def test_ground_truth_can_replace_so_a_profile_without_a_generator_runs(ui: Any, plain: VocabularyClass,
                                                                        dataset: Dataset, media_root: Path,
                                                                        bob: Client) -> None:
    """A team with a labelled dataset and the few-shot profile: the class's regions become its own images in one
    call (API or class page); refused input changes nothing; another user and an anonymous caller cannot."""
    from ovdiff_web.datasets.preview import image_and_labels
    from ovdiff_web.runs.services import RunInputError, check_support_available

    ids = list(dataset.image_ids)
    with_brick = [i for i in ids if (image_and_labels(dataset, i)[1] == 1).sum() >= 16]
    url = f"/api/classes/{plain.pk}/support/ground-truth/"
    body = {"dataset": dataset.pk, "image_ids": with_brick[:2], "mode": "replace"}
    assert bob.post(url, body, content_type="application/json").status_code == 404
    assert Client().post(url, body, content_type="application/json").status_code in (401, 403)
    assert ui.post(url, {**body, "mode": "sideways"}, content_type="application/json").status_code == 400
    refused = ui.post(url, {**body, "image_ids": ["nope"]}, content_type="application/json")
    assert refused.status_code == 400 and "nope" in refused.json()["detail"]
    plain.refresh_from_db()
    assert not plain.user_support_dir and _folders(plain, media_root) == [] and plain.version == 1
    with pytest.raises(RunInputError):
        check_support_available("dinov2-small", [plain.snapshot()])

    answer = ui.post(url, body, content_type="application/json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["images"] == answer.json()["masks_given"] == 2
    assert "replaced the class's images by 2 images with the ground truth of dataset demo" in answer.json()["summary"]
    plain.refresh_from_db()
    folder = media_root / plain.user_support_dir
    _, labels = image_and_labels(dataset, with_brick[0])
    assert (np.asarray(Image.open(folder / "masks" / "000.png")) > 0).sum() == (labels == 1).sum()
    assert curation.current(plain) is None  # its own images, not a version added to a set
    check_support_available("dinov2-small", [plain.snapshot()])  # no refusal now

    # the class page's form does the same; another user's post changes nothing
    first = plain.user_support_dir
    form = {"dataset": dataset.pk, "image_ids": with_brick[0], "crop": "crop", "mode": "replace"}
    assert bob.post(f"/classes/{plain.pk}/ground-truth/", form).status_code == 404
    assert Client().post(f"/classes/{plain.pk}/ground-truth/", form).status_code == 302
    plain.refresh_from_db()
    assert plain.user_support_dir == first
    page = ui.post(f"/classes/{plain.pk}/ground-truth/", form, follow=True)
    assert page.status_code == 200 and "replaced the class&#x27;s images by 1 image" in page.content.decode()
    plain.refresh_from_db()
    assert plain.user_support_dir != first
