"""Vocabularies (paste, import, flip label with who/when, prompt rename, conflicts), class page, compare, workers."""
from __future__ import annotations

from typing import Any

import pytest

from ovdiff_web.core.models import LabelSource, Run, Vocabulary, VocabularyClass

pytestmark = pytest.mark.django_db


def test_create_vocabulary_by_pasting_names(ui: Any) -> None:
    response = ui.post("/vocabularies/", {"name": "street", "class_names": "car, road\n\nsky\n"})
    vocab = Vocabulary.objects.get(name="street")
    assert response.status_code == 302 and response["Location"] == f"/vocabularies/{vocab.pk}/"
    assert list(vocab.classes.values_list("name", flat=True)) == ["car", "road", "sky"]
    assert set(vocab.classes.values_list("label_source", flat=True)) == {LabelSource.LABELLER}
    html = ui.get(response["Location"]).content.decode()
    assert "labeller" in html and "make stuff" in html or "make thing" in html


@pytest.mark.parametrize(("names", "reason"), [
    ("", "give at least one class name"),
    (" , , ", "the class names are all blank"),
    ("cat, cat", "&#x27;cat&#x27; is listed twice"),
    ("cat\ndog, ,sky", "class name 3 is blank"),
])
def test_create_vocabulary_refuses_empty_blank_or_repeated_names(ui: Any, names: str, reason: str) -> None:
    response = ui.post("/vocabularies/", {"name": "empty", "class_names": names})
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not Vocabulary.objects.filter(name="empty").exists()


def test_duplicate_vocabulary_name_is_a_field_error_and_input_kept(ui: Any) -> None:
    Vocabulary.objects.create(name="street")
    response = ui.post("/vocabularies/", {"name": "Street", "class_names": "bus\ntram"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "already exists" in html and "bus\ntram" in html


def test_flip_label_records_person_and_marks_affected_runs(ui: Any, user: Any, dataset: Any) -> None:
    vocab = Vocabulary.objects.create(name="v", owner=user)
    ui.post(f"/vocabularies/{vocab.pk}/add/", {"class_names": "sky"})
    cls = vocab.classes.get()
    run = Run.objects.create(dataset=dataset, created_by=user, vocabulary=vocab, profile="tiny", status=Run.Status.SUCCEEDED,
                             vocabulary_snapshot=[cls.snapshot()])
    target = "0" if cls.is_stuff else "1"
    response = ui.post(f"/vocabularies/{vocab.pk}/classes/{cls.pk}/label/", {"is_stuff": target, "version": cls.version})
    assert response.status_code == 302
    cls.refresh_from_db()
    assert cls.is_stuff == (target == "1") and cls.label_source == LabelSource.PERSON
    assert cls.label_changed_by == user and cls.label_changed_at is not None
    html = ui.get(f"/vocabularies/{vocab.pk}/").content.decode()
    assert "alice" in html and f"/runs/{run.pk}/" in html
    assert "Stale results" in ui.get(f"/runs/{run.pk}/").content.decode()
    # a stale form (old version) does not overwrite the newer decision
    stale = ui.post(f"/vocabularies/{vocab.pk}/classes/{cls.pk}/label/", {"is_stuff": target, "version": 1}, follow=True)
    assert "changed by someone else" in stale.content.decode()


def test_rename_prompt_and_import_dataset_classes(ui: Any, dataset: Any, user: Any) -> None:
    vocab = Vocabulary.objects.create(name="v", owner=user)
    ui.post(f"/vocabularies/{vocab.pk}/import/", {"dataset": dataset.pk})
    names = list(vocab.classes.values_list("name", flat=True))
    expected = [n for n in dataset.class_names if not (dataset.has_background and n == "background")]
    assert names == expected
    cls = vocab.classes.first()
    ui.post(f"/vocabularies/{vocab.pk}/classes/{cls.pk}/prompt/", {"prompt": "a  shiny thing", "version": cls.version})
    cls.refresh_from_db()
    assert cls.prompt == "a shiny thing"
    bad = ui.post(f"/vocabularies/{vocab.pk}/classes/{cls.pk}/prompt/", {"prompt": "x" * 600, "version": cls.version})
    assert bad.status_code == 400 and "at most 500" in bad.content.decode()
    assert ui.post(f"/vocabularies/{vocab.pk}/import/", {"dataset": 9999}).status_code == 400


def test_class_page_and_support_upload(ui: Any, media_root: Any, user: Any) -> None:
    import io

    from PIL import Image

    vocab = Vocabulary.objects.create(name="v", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat")
    assert "No support set" in ui.get(f"/classes/{cls.pk}/").content.decode()
    bad = io.BytesIO(b"not an image")
    bad.name = "notes.png"
    response = ui.post(f"/classes/{cls.pk}/", {"images": [bad]})
    assert response.status_code == 400 and "notes.png" in response.content.decode()
    buf = io.BytesIO()
    Image.new("RGB", (24, 24), (200, 10, 10)).save(buf, format="PNG")
    buf.seek(0)
    buf.name = "cat1.png"
    assert ui.post(f"/classes/{cls.pk}/", {"images": [buf]}).status_code == 302
    cls.refresh_from_db()
    assert cls.user_support_dir and (media_root / cls.user_support_dir / "000.png").is_file()


def test_compare_runs(ui: Any, finished_run: Run, user: Any) -> None:
    other = Run.objects.create(dataset=finished_run.dataset, created_by=user, profile="tiny", status=Run.Status.SUCCEEDED,
                               class_names=finished_run.class_names, miou=0.5,
                               per_class_iou={n: 0.5 for n in finished_run.class_names},
                               settings={"segmenter": {"use_pamr": False, "window": 512}, "seed": 0})
    html = ui.get(f"/compare/?runs={finished_run.pk}&runs={other.pk}&runs=99999").content.decode()
    assert "segmenter.use_pamr" in html and "segmenter.window" not in html  # only differences by default
    assert "Run 99999: not found or not shared with you." in html
    assert "segmenter.window" in ui.get(f"/compare/?runs={finished_run.pk},{other.pk}&all=1").content.decode()


def test_compare_is_chronological_whatever_the_url_order(ui: Any, finished_run: Run, user: Any) -> None:
    """The picker and "Compare selected" submit the newest run first: the page still shows older -> newer and the
    change is newer - older (a better newer run shows a positive change)."""
    import datetime

    names = finished_run.class_names
    older = Run.objects.create(dataset=finished_run.dataset, created_by=user, profile="tiny", name="baseline",
                               status=Run.Status.SUCCEEDED, class_names=names, miou=0.4,
                               per_class_iou={n: 0.4 for n in names})
    newer = Run.objects.create(dataset=finished_run.dataset, created_by=user, profile="tiny", name="with PAMR",
                               status=Run.Status.SUCCEEDED, class_names=names, miou=0.6,
                               per_class_iou={n: 0.6 for n in names})
    now = datetime.datetime(2026, 12, 7, tzinfo=datetime.timezone.utc)
    Run.objects.filter(pk=older.pk).update(created_at=now)
    Run.objects.filter(pk=newer.pk).update(created_at=now + datetime.timedelta(hours=1))
    for query in (f"runs={newer.pk}&runs={older.pk}", f"runs={older.pk},{newer.pk}"):
        html = ui.get(f"/compare/?{query}").content.decode()
        table = html.split('aria-label="per-class IoU comparison"')[1]
        assert table.index(f">#{older.pk}<") < table.index(f">#{newer.pk}<"), "oldest run first"
        row = table.split(f'data-class-row="{names[0]}"')[1].split("</tr>")[0]
        assert "+20.0" in row.split("data-change")[1], "change = newer - older"
        assert "change (newer − older)" in html and f"#{newer.pk} − #{older.pk}" in html
        assert "oldest first" in html.split("data-direction")[1]
    picker = ui.get("/compare/").content.decode().split('id="runs-select"')[1].split("</select>")[0]
    assert "“baseline”" in picker and "“with PAMR”" in picker, "run names in the compare picker"


def test_workers_page_says_when_broker_is_down(ui: Any, settings: Any) -> None:
    from ovdiff_web.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = ui.get("/workers/")
    finally:
        app.conf.broker_url = old
    assert response.status_code == 200 and "broker is unavailable" in response.content.decode()


def test_segment_form_errors_keep_input(ui: Any) -> None:
    response = ui.post("/segment/", {"classes": "cat, dog", "profile": "tiny"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "give the images one way" in html and "cat, dog" in html
    assert ui.get("/segment/nosuchtoken/").status_code == 404


def test_vocabulary_page_names_the_profile_its_runs_used(ui: Any, user: Any, dataset: Any) -> None:
    """Under dinov2-small (no generator) the page does not say "template of profile tiny"."""
    vocab = Vocabulary.objects.create(name="fewshot", owner=user)
    VocabularyClass.objects.create(vocabulary=vocab, name="cat", order=1)
    html = ui.get(f"/vocabularies/{vocab.pk}/").content.decode()
    assert "template of profile tiny" in html.split("data-prompt-profile")[1]  # no run yet: the server's default
    Run.objects.create(dataset=dataset, created_by=user, vocabulary=vocab, profile="dinov2-small",
                       status=Run.Status.SUCCEEDED)
    html = ui.get(f"/vocabularies/{vocab.pk}/").content.decode()
    shown = html.split("data-prompt-profile")[1].split("</span>")[0]
    assert "profile dinov2-small has no generator" in shown and "tiny" not in shown


def test_class_page_rebuild_and_regenerate_name_the_profile_a_rebuild_uses(ui: Any, user: Any, dataset: Any) -> None:
    """No run yet: the server's default, said as such; after a dinov2-small run: that profile, in the text and
    preselected in the regenerate form (the probe saw "tiny (the vocabulary's latest run)" with no run at all)."""
    vocab = Vocabulary.objects.create(name="fewshot", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat", order=1)
    html = ui.get(f"/classes/{cls.pk}/").content.decode()
    assert "the server's default profile" in html.split("data-rebuild-profile")[1].split("</span>")[0]
    assert '<option value="tiny" selected>' in html
    Run.objects.create(dataset=dataset, created_by=user, vocabulary=vocab, profile="dinov2-small",
                       status=Run.Status.SUCCEEDED)
    html = ui.get(f"/classes/{cls.pk}/").content.decode()
    shown = html.split("data-rebuild-profile")[1].split("</span>")[0]
    assert "profile dinov2-small (the vocabulary's latest run)" in shown
    assert '<option value="dinov2-small" selected>' in html and '<option value="tiny" selected>' not in html
