"""Curating a class's support set on the dashboard and the API: review with flags and proposed masks, exclude with
a reason, choose a proposed mask, versions (who / when / what) and going back, a rebuild on the worker task that
leaves excluded images out of the banks and never builds the same review twice, stale runs, concurrent edits
(409, no lost edit) and a second user on every new route."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from ovdiff_web.accounts.audit import AuditEntry
from ovdiff_web.core.models import Run, SupportCuration, SupportSet, Vocabulary, VocabularyClass
from ovdiff_web.support import curation
from ovdiff_web.common import engine_bridge
from ovdiff_web.support.artifacts import record_artifacts

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(user: Any, media_root: Any, settings: Any) -> VocabularyClass:
    """A class of alice's whose tiny-profile support set and banks were built by the engine and recorded."""
    settings.OVDIFF_PROFILE = "tiny"
    vocab = Vocabulary.objects.create(name="pets", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat", order=1)
    VocabularyClass.objects.create(vocabulary=vocab, name="grass", is_stuff=True, order=2)
    engine_bridge.ENGINE_CACHE.update(store=None, ovdiffs={})  # this test's store
    ovd = engine_bridge.ovdiff("tiny")
    spec = cls.to_spec()
    record_artifacts("tiny", ovd.support_set(spec), ovd.banks(spec), spec=spec, class_id=cls.pk)
    return cls


@pytest.fixture
def bob(django_user_model: Any) -> Client:
    other = Client()
    other.force_login(django_user_model.objects.create_user("bob", password="pw-bob-123"))
    return other


def _images(cls: VocabularyClass) -> list[Any]:
    return list(curation.review_set(cls).images.all())


def _post(ui: Any, cls: VocabularyClass, **fields: Any) -> Any:
    return ui.post(f"/classes/{cls.pk}/curate/", {"version": cls.version, **fields})


def test_review_exclude_choose_mask_versions_and_go_back(ui: Any, built: VocabularyClass, user: Any) -> None:
    images = _images(built)
    assert all(im.content_id for im in images) and any(im.instances for im in images)
    page = ui.get(f"/classes/{built.pk}/").content.decode()
    assert page.count("data-review-card") == len(images) and "data-versions" in page
    first, other = images[0], next(im for im in images if im.instances)
    layer = ui.get(f"/support-images/{other.pk}/instance/0.png")
    assert layer.status_code == 200 and layer["Content-Type"] == "image/png"
    assert ui.get(f"/support-images/{other.pk}/instance/{len(other.instances)}.png").status_code == 404
    assert _post(ui, built, action="exclude", image=first.content_id, reason="shows a dog").status_code == 302
    built.refresh_from_db()
    assert built.support_version == 1
    assert _post(ui, built, action="mask", image=other.content_id, choice="instance:0").status_code == 302
    built.refresh_from_db()
    v2 = SupportCuration.objects.get(vocab_class=built, number=2)
    assert v2.excluded == {first.content_id: "shows a dog"} and v2.masks == {other.content_id: "instance:0"}
    assert v2.created_by == user and "mask 0" in v2.summary
    page = ui.get(f"/classes/{built.pk}/").content.decode()
    assert "shows a dog" in page and "data-rebuild-needed" in page and 'data-version-row="2"' in page
    assert {e.action for e in AuditEntry.objects.filter(object_type="VocabularyClass")} >= {"support_exclude",
                                                                                            "support_mask"}
    # refused input: 400 with a message, nothing stored
    assert _post(ui, built, action="mask", image=other.content_id, choice="instance:99").status_code == 302
    assert _post(ui, built, action="exclude", image="nope", reason="x").status_code == 302
    json = ui.post(f"/classes/{built.pk}/curate/", {"action": "exclude", "image": "nope", "reason": "x"},
                   HTTP_ACCEPT="application/json")
    assert json.status_code == 400 and "no support image" in json.json()["message"]
    assert SupportCuration.objects.filter(vocab_class=built).count() == 2
    built.refresh_from_db()
    assert _post(ui, built, action="go_back", number=1).status_code == 302
    built.refresh_from_db()
    assert built.support_version == 1 and built.snapshot()["curation"]["masks"] == {}
    assert _post(ui, built, action="go_back", number=0).status_code == 302
    built.refresh_from_db()
    assert built.support_version == 0 and "curation" not in built.snapshot()


def test_rebuild_leaves_excluded_images_out_and_is_built_once(ui: Any, built: VocabularyClass) -> None:
    from tasks.support import regenerate_class

    images = _images(built)
    curation.exclude(built, images[1].content_id, "blurry", user=None)
    settings_dict = engine_bridge.build_config("tiny").to_dict()
    out = regenerate_class.apply(args=(built.pk, "tiny", settings_dict)).get()
    version = SupportCuration.objects.get(vocab_class=built, number=1)
    assert version.support_key == out["support_key"] and out["support_version"] == 1
    shown = curation.review_set(built)
    assert shown.key == version.support_key and curation.is_built(built, shown)
    assert [im.excluded for im in shown.images.all()] == ["", "blurry"] + [""] * (len(images) - 2)
    store = engine_bridge.store()
    banks = engine_bridge.ovdiff("tiny").banks(built.to_spec())
    assert all(s.image_index != 1 for b in banks.values() for s in b.fg_sources if s.image_index is not None)
    n_sets = len(list((store.root / "support").rglob("COMPLETE")))
    again = regenerate_class.apply(args=(built.pk, "tiny", settings_dict)).get()
    assert again["support_key"] == out["support_key"]
    assert len(list((store.root / "support").rglob("COMPLETE"))) == n_sets, "the same review is never built twice"
    assert SupportSet.objects.filter(key=out["support_key"]).count() == 1


def test_runs_with_an_older_version_are_marked_stale(ui: Any, built: VocabularyClass, dataset: Any) -> None:
    snapshot = [c.snapshot() for c in built.vocabulary.classes.all()]
    run = Run.objects.create(dataset=dataset, vocabulary=built.vocabulary, profile="tiny", status=Run.Status.SUCCEEDED,
                             vocabulary_snapshot=snapshot, created_by=built.vocabulary.owner)
    page = ui.get(f"/vocabularies/{built.vocabulary_id}/").content.decode()
    assert f'/runs/{run.pk}/"' not in page.split("Affects")[1].split("</table>")[0]
    curation.exclude(built, _images(built)[0].content_id, "not a cat")
    page = ui.get(f"/vocabularies/{built.vocabulary_id}/").content.decode()
    row = page.split(f'id="class-{built.pk}"')[1].split("</tr>")[0]
    assert f"/runs/{run.pk}/" in row and "support v1" in row
    grass = built.vocabulary.classes.get(name="grass")
    assert f"/runs/{run.pk}/" not in page.split(f'id="class-{grass.pk}"')[1].split("</tr>")[0]


def test_concurrent_edits_of_one_class_lose_nothing(ui: Any, built: VocabularyClass) -> None:
    a, b = _images(built)[:2]
    loaded = built.version
    first = ui.post(f"/api/classes/{built.pk}/support/curate/", {"action": "exclude", "image": a.content_id,
                    "reason": "dog", "expected_version": loaded}, content_type="application/json")
    second = ui.post(f"/api/classes/{built.pk}/support/curate/", {"action": "exclude", "image": b.content_id,
                     "reason": "car", "expected_version": loaded}, content_type="application/json")
    assert first.status_code == 200 and second.status_code == 409
    assert second.json()["current_version"] == first.json()["version"]
    retry = ui.post(f"/api/classes/{built.pk}/support/curate/", {"action": "exclude", "image": b.content_id,
                    "reason": "car", "expected_version": second.json()["current_version"]},
                    content_type="application/json")
    assert retry.status_code == 200
    built.refresh_from_db()
    assert curation.current(built).excluded == {a.content_id: "dog", b.content_id: "car"}
    stale_page = ui.post(f"/classes/{built.pk}/curate/", {"action": "include", "image": a.content_id,
                                                          "version": loaded}, HTTP_ACCEPT="application/json")
    assert stale_page.status_code == 409


def test_api_review_versions_suspicious_and_added_images(ui: Any, built: VocabularyClass) -> None:
    review = ui.get(f"/api/classes/{built.pk}/support/").json()
    assert review["support_version"] == 0 and review["built"] and len(review["images"]) == 4
    image = review["images"][0]["image"]
    assert image["content_id"] and isinstance(image["flags"], list)
    done = ui.post(f"/api/classes/{built.pk}/support/curate/", {"action": "mask", "image": image["content_id"],
                   "choice": "attribution"}, content_type="application/json")
    assert done.status_code == 200 and done.json()["support_version"] == 1
    bad = ui.post(f"/api/classes/{built.pk}/support/curate/", {"action": "explode"}, content_type="application/json")
    assert bad.status_code == 400
    seed = ui.post(f"/api/classes/{built.pk}/support/curate/", {"action": "add_seed", "seed": 7},
                   content_type="application/json")
    assert seed.status_code == 200
    buf = io.BytesIO()
    Image.fromarray(np.full((24, 24, 3), 90, np.uint8)).save(buf, "PNG")
    added = ui.post(f"/api/classes/{built.pk}/support/images/",
                    {"images": [SimpleUploadedFile("mine.png", buf.getvalue(), content_type="image/png")]})
    assert added.status_code == 201, added.content
    corrupt = ui.post(f"/api/classes/{built.pk}/support/images/",
                      {"images": [SimpleUploadedFile("bad.png", b"not a png", content_type="image/png")]})
    assert corrupt.status_code == 400
    versions = ui.get(f"/api/classes/{built.pk}/support/versions/").json()["results"]
    assert [v["number"] for v in versions] == [3, 2, 1]
    assert versions[0]["extra_seeds"] == [7] and len(versions[0]["extra_dirs"]) == 1
    assert versions[0]["masks"] == {image["content_id"]: "attribution"}, "adding images keeps the review"
    listed = ui.get(f"/api/vocabularies/{built.vocabulary_id}/suspicious/").json()["results"]
    from engine.support.review import flags_order

    order = [flags_order(item["flags"]) for item in listed]
    assert order == sorted(order) and listed[0]["class_name"] == "cat"
    assert all(len(item["reasons"]) == len(item["flags"]) for item in listed)
    page = ui.get(f"/vocabularies/{built.vocabulary_id}/review/")
    assert page.status_code == 200 and page.content.decode().count("data-review-card") == len(listed)


def test_a_second_user_never_sees_or_changes_the_curation(bob: Client, built: VocabularyClass) -> None:
    image = _images(built)[0]
    assert bob.get(f"/vocabularies/{built.vocabulary_id}/review/").status_code == 404
    assert bob.post(f"/classes/{built.pk}/curate/", {"action": "exclude", "image": image.content_id,
                                                     "reason": "x"}).status_code == 404
    assert bob.post(f"/classes/{built.pk}/curate/", {"action": "rebuild"}).status_code == 404
    for url in (f"/api/classes/{built.pk}/support/", f"/api/classes/{built.pk}/support/versions/",
                f"/api/vocabularies/{built.vocabulary_id}/suspicious/"):
        assert bob.get(url).status_code == 404, url
    for url, body in ((f"/api/classes/{built.pk}/support/curate/", {"action": "exclude", "image": image.content_id,
                                                                     "reason": "x"}),
                      (f"/api/classes/{built.pk}/support/rebuild/", {}),
                      (f"/api/classes/{built.pk}/support/images/", {})):
        assert bob.post(url, body, content_type="application/json").status_code == 404, url
    assert not SupportCuration.objects.exists()
    built.vocabulary.visibility = "public"
    built.vocabulary.save()
    assert bob.get(f"/api/classes/{built.pk}/support/").status_code == 200  # may read a public vocabulary ...
    refused = bob.post(f"/api/classes/{built.pk}/support/curate/", {"action": "exclude", "image": image.content_id,
                                                                    "reason": "x"}, content_type="application/json")
    assert refused.status_code == 403  # ... but not change it
    assert bob.post(f"/classes/{built.pk}/curate/", {"action": "include", "image": image.content_id}).status_code == 403
    assert not SupportCuration.objects.exists()


def test_compare_shows_per_class_iou_before_and_after_a_curation(ui: Any, built: VocabularyClass,
                                                                 dataset: Any) -> None:
    def run(version: int, iou: float) -> Run:
        snapshot = [{**c.snapshot(), "support_version": version if c.pk == built.pk else 0}
                    for c in built.vocabulary.classes.all()]
        return Run.objects.create(dataset=dataset, vocabulary=built.vocabulary, profile="tiny",
                                  status=Run.Status.SUCCEEDED, vocabulary_snapshot=snapshot, miou=iou,
                                  class_names=["background", "cat", "grass"],
                                  per_class_iou={"cat": iou, "grass": 0.5}, created_by=built.vocabulary.owner)

    curation.exclude(built, _images(built)[0].content_id, "not a cat")
    built.refresh_from_db()
    before, after = run(0, 0.25), run(1, 0.40)
    after.vocabulary_snapshot = [c.snapshot() for c in built.vocabulary.classes.all()]
    after.save(update_fields=["vocabulary_snapshot"])
    shown = ui.get(f"/runs/{after.pk}/").content.decode()
    assert "version 1 (1 excluded)" in shown, "a run shows the support-set version it used per class"
    page = ui.get(f"/compare/?runs={before.pk},{after.pk}").content.decode()
    cat = page.split('data-class-row="cat"')[1].split("</tr>")[0]
    grass = page.split('data-class-row="grass"')[1].split("</tr>")[0]
    assert "support set changed" in cat and "as built" in cat and "support v1" in cat and "+15.0" in cat
    assert "support set changed" not in grass and "0.0" in grass
    vocab_page = ui.get(f"/vocabularies/{built.vocabulary_id}/").content.decode()
    assert f"?runs={before.pk},{after.pk}" in vocab_page


def test_added_uploads_keep_the_review_and_are_not_deleted_under_a_version(ui: Any, built: VocabularyClass,
                                                                           media_root: Any) -> None:
    image = _images(built)[0]
    curation.exclude(built, image.content_id, "blurry")
    buf = io.BytesIO()
    Image.fromarray(np.full((20, 20, 3), 30, np.uint8)).save(buf, "PNG")
    response = ui.post(f"/classes/{built.pk}/", {"images": [SimpleUploadedFile("a.png", buf.getvalue(),
                                                                                content_type="image/png")],
                                                  "add_to_set": "on"})
    assert response.status_code == 302
    built.refresh_from_db()
    assert not built.user_support_dir, "added images join the set; they do not replace it"
    version = curation.current(built)
    assert version.number == 2 and version.excluded == {image.content_id: "blurry"} and len(version.extra_dirs) == 1
    folder = version.extra_dirs[0].rsplit("/", 1)[1]
    refused = ui.post(f"/classes/{built.pk}/support/", {"action": "delete_uploaded", "folder": folder}, follow=True)
    assert "kept so those versions stay buildable" in refused.content.decode()
    assert (media_root / version.extra_dirs[0]).is_dir()


def test_a_rebuild_reports_its_progress(ui: Any) -> None:
    """What the worker's ``update_state`` stores is what the class page's job row shows (real Redis backend)."""
    import uuid

    from ovdiff_web.celery import app
    from ovdiff_web.common.broker.task_state import task_state

    task_id = f"test-progress-{uuid.uuid4().hex}"
    app.backend.store_result(task_id, {"stage": "banks", "done": 2, "total": 3}, "PROGRESS")
    try:
        state = task_state(task_id)
        assert state["status"] == "running" and not state["finished"]
        assert state["label"] == "running: banks 2/3" and state["progress"]["total"] == 3
    finally:
        app.backend.forget(task_id)


def test_the_review_page_pages_through_a_large_vocabulary(ui: Any, built: VocabularyClass, monkeypatch: Any) -> None:
    from ovdiff_web.support import views as views

    monkeypatch.setattr(views, "MAX_REVIEW_ITEMS", 3)
    url = f"/vocabularies/{built.vocabulary_id}/review/"
    first, second = ui.get(url).content.decode(), ui.get(url + "?page=2").content.decode()
    assert first.count("data-review-card") == 3 and second.count("data-review-card") == 1
    assert "data-page-next" in first and "data-page-prev" in second and "Page 2 of 2" in second
    assert ui.get(url + "?page=x").status_code == 200 and ui.get(url + "?page=99").status_code == 200
    assert "grass" in first.split("data-unbuilt")[1].split("</p>")[0]


def test_the_class_page_names_both_version_numbers_as_the_api_does(ui: Any, built: VocabularyClass) -> None:
    """The class page shows the support version and the class version, each named; the API's ``expected_version``
    takes the class version (one exclusion moves both)."""
    image = _images(built)[0]
    api = ui.get(f"/api/classes/{built.pk}/support/").json()
    assert _post(ui, built, action="exclude", image=image.content_id, reason="not a cat").status_code == 302
    built.refresh_from_db()
    after = ui.get(f"/api/classes/{built.pk}/support/").json()
    assert after["support_version"] == api["support_version"] + 1 and after["version"] > api["version"]
    page = ui.get(f"/classes/{built.pk}/").content.decode()
    assert f"support version {after['support_version']}<" in page and f"class version {after['version']}<" in page
    # the support version sent as expected_version is stale (it is not the class version): refused, nothing changed
    stale = ui.post(f"/api/classes/{built.pk}/support/curate/",
                    {"action": "include", "image": image.content_id, "expected_version": after["support_version"]},
                    content_type="application/json")
    assert stale.status_code == 409 and "version" in stale.json()["detail"]
    assert ui.get(f"/api/classes/{built.pk}/support/").json()["support_version"] == after["support_version"]


def test_a_foreground_on_the_border_is_flagged_first_with_its_measured_share(ui: Any, user: Any, media_root: Any,
                                                                            settings: Any) -> None:
    """A recorded image whose fg holds the whole border (a ring: MaskCut took the surround) is flagged, sorted
    before every other image of the vocabulary, and the review page and the API say how much of the border."""
    import dataclasses

    from engine.masks.fgbg import erode

    settings.OVDIFF_PROFILE = "tiny"
    vocab = Vocabulary.objects.create(name="tight crops", owner=user)
    first = VocabularyClass.objects.create(vocabulary=vocab, name="dog", order=1)
    ringed = VocabularyClass.objects.create(vocabulary=vocab, name="cat", order=2)
    engine_bridge.ENGINE_CACHE.update(store=None, ovdiffs={})
    ovd = engine_bridge.ovdiff("tiny")
    for cls in (first, ringed):
        spec = cls.to_spec()
        support = ovd.support_set(spec)
        if cls is ringed:
            im = support.images[1]
            h, w = im.image.shape[:2]
            ring = np.ones((h, w), bool)
            ring[h // 8:h - h // 8, w // 8:w - w // 8] = False  # ~44% of the image, all of its border
            support = dataclasses.replace(support, images=[*support.images[:1],
                                                            dataclasses.replace(im, fg_mask=ring, bg_mask=erode(~ring, 1)),
                                                            *support.images[2:]])
        record_artifacts("tiny", support, ovd.banks(spec), spec=spec, class_id=cls.pk)
    listed = ui.get(f"/api/vocabularies/{vocab.pk}/suspicious/").json()["results"]
    top = listed[0]
    assert top["class_name"] == "cat" and top["image"]["index"] == 1 and top["flags"][0] == "fg_on_border"
    assert top["reasons"][0] == "foreground touches 100% of the border: probably background"
    assert top["image"]["measures"]["border_share"] == 1.0 and 0.3 < top["image"]["measures"]["fg_fraction"] < 0.6
    assert all("fg_on_border" not in item["flags"] for item in listed[1:])
    page = ui.get(f"/vocabularies/{vocab.pk}/review/").content.decode()
    assert "foreground touches 100% of the border: probably background" in page
    assert page.index('data-flag="fg_on_border"') < page.index("data-review-card", page.index("data-review-card") + 1)


def test_the_review_thresholds_are_settings_with_ranges(settings: Any) -> None:
    from ovdiff_web.common.settings_check import SettingError
    from ovdiff_web.support.artifacts import review_config

    settings.OVDIFF_REVIEW = {"max_border_share": 0.4}
    assert review_config().max_border_share == 0.4
    settings.OVDIFF_REVIEW = {"max_border_share": 1.5}
    with pytest.raises(SettingError, match="review.max_border_share"):
        review_config()


def test_review_thresholds_from_the_environment_are_checked(monkeypatch: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from ovdiff_web.env import env_float

    monkeypatch.setenv("OVDIFF_REVIEW_MAX_BORDER_SHARE", "0.8")
    assert env_float("OVDIFF_REVIEW_MAX_BORDER_SHARE", minimum=0, maximum=1) == 0.8
    for bad in ("2", "nan", "most"):
        monkeypatch.setenv("OVDIFF_REVIEW_MAX_BORDER_SHARE", bad)
        with pytest.raises(ImproperlyConfigured, match="OVDIFF_REVIEW_MAX_BORDER_SHARE"):
            env_float("OVDIFF_REVIEW_MAX_BORDER_SHARE", minimum=0, maximum=1)
