"""A team's week: rename and delete (confirmation page; refused or explained when runs depend on the object),
names and notes on runs, re-run and clone. Owners act; a second user cannot change what they do not own."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ovdiff_web.core.models import Dataset, Run, Vocabulary, VocabularyClass

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    from django.test import Client

    other = Client()
    other.force_login(django_user_model.objects.create_user("bob", password="pw-bob-123"))
    return other


@pytest.fixture
def vocab(user: Any) -> Vocabulary:
    from ovdiff_web.vocabularies.services import add_classes

    v = Vocabulary.objects.create(name="street", owner=user)
    add_classes(v, ["grass", "brick"], initial=True)
    return v


def test_run_name_notes_rerun_clone_and_delete(ui: Any, finished_run: Run, media_root: Path) -> None:
    from ovdiff_web.common.engine_bridge import build_config

    real = build_config("tiny", {"support": {"seed": 7}}).to_dict()
    Run.objects.filter(pk=finished_run.pk).update(settings=real)
    ui.post(f"/runs/{finished_run.pk}/label/", {"name": "baseline", "notes": "paper settings\nall images"})
    html = ui.get(f"/runs/{finished_run.pk}/").content.decode()
    assert "baseline" in html and "paper settings<br>all images" in html
    assert "baseline" in ui.get("/runs/").content.decode()

    response = ui.post(f"/runs/{finished_run.pk}/rerun/")
    assert response.status_code == 302, response.content
    again = Run.objects.exclude(pk=finished_run.pk).get()
    assert response["Location"] == f"/runs/{again.pk}/"
    assert again.settings == Run.objects.get(pk=finished_run.pk).settings  # as stored (JSON)
    assert again.dataset_id == finished_run.dataset_id and again.name == "re-run of baseline"

    clone = ui.get(f"/runs/?clone={finished_run.pk}").content.decode()
    assert "support.seed=7</textarea>" in clone and 'value="clone of baseline"' in clone

    confirm = ui.get(f"/runs/{again.pk}/delete/").content.decode()
    assert "data-refused" in confirm  # queued: cancel first
    assert ui.post(f"/runs/{again.pk}/delete/").status_code == 302 and Run.objects.filter(pk=again.pk).exists()
    confirm = ui.get(f"/runs/{finished_run.pk}/delete/").content.decode()
    assert "data-consequences" in confirm and "cannot be undone" in confirm
    ui.post(f"/runs/{finished_run.pk}/delete/")
    assert not Run.objects.filter(pk=finished_run.pk).exists()
    assert not (media_root / "runs" / str(finished_run.pk)).exists()


def test_dataset_with_runs_is_refused_then_deleted(ui: Any, finished_run: Run, user: Any) -> None:
    dataset = finished_run.dataset
    Dataset.objects.filter(pk=dataset.pk).update(created_by=user)
    page = ui.get(f"/library/dataset/{dataset.pk}/delete/").content.decode()
    assert "data-refused" in page and f"/runs/{finished_run.pk}/" in page
    after = ui.post(f"/library/dataset/{dataset.pk}/delete/", follow=True).content.decode()
    assert "was not deleted" in after and Dataset.objects.filter(pk=dataset.pk).exists()
    Run.objects.all().delete()
    ui.post(f"/library/dataset/{dataset.pk}/rename/", {"name": "Demo v2"})
    assert Dataset.objects.get(pk=dataset.pk).name == "Demo v2"
    ui.post(f"/library/dataset/{dataset.pk}/delete/")
    assert not Dataset.objects.filter(pk=dataset.pk).exists()


def test_vocabulary_and_class_rename_and_delete_keep_run_snapshots(ui: Any, vocab: Vocabulary, dataset: Any,
                                                                   user: Any) -> None:
    from ovdiff_web.runs.services import create_run

    run = create_run(user=user, dataset=dataset, vocabulary=vocab, profile="tiny")
    grass = vocab.classes.get(name="grass")
    assert "data-refused" in ui.get(f"/library/class/{grass.pk}/delete/").content.decode()  # run still queued
    Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCEEDED)

    ui.post(f"/library/class/{grass.pk}/rename/", {"name": "lawn"})
    grass.refresh_from_db()
    assert grass.name == "lawn" and grass.text == "grass"  # the generator still gets the same text
    taken = ui.post(f"/library/class/{grass.pk}/rename/", {"name": "Brick"}, follow=True).content.decode()
    assert "is taken" in taken
    page = ui.get(f"/library/class/{grass.pk}/delete/").content.decode()
    assert "1 run used it" in page and "keeps its own copy" in page
    ui.post(f"/library/class/{grass.pk}/delete/")
    assert not VocabularyClass.objects.filter(pk=grass.pk).exists()

    ui.post(f"/library/vocabulary/{vocab.pk}/rename/", {"name": "streets"})
    assert Vocabulary.objects.get(pk=vocab.pk).name == "streets"
    done = ui.post(f"/library/vocabulary/{vocab.pk}/delete/", follow=True).content.decode()
    assert "1 run(s) keep their own copy" in done
    run.refresh_from_db()
    assert run.vocabulary is None and [e["name"] for e in run.vocabulary_snapshot] == ["grass", "brick"]
    assert ui.get(f"/runs/{run.pk}/").status_code == 200
    assert ui.get("/library/nonsense/1/delete/").status_code == 404

    from ovdiff_web.accounts.audit import AuditEntry

    trail = {(e.object_type, e.action, e.username): e.changes for e in AuditEntry.objects.all()}
    assert trail[("VocabularyClass", "rename", user.username)] == {"name": ["grass", "lawn"]}
    assert ("VocabularyClass", "delete", user.username) in trail
    assert trail[("Vocabulary", "rename", user.username)] == {"name": ["street", "streets"]}
    assert ("Vocabulary", "delete", user.username) in trail


def test_second_user_cannot_rename_delete_or_label_what_they_do_not_own(ui: Any, bob: Any, vocab: Vocabulary,
                                                                        finished_run: Run) -> None:
    grass = vocab.classes.get(name="grass")
    dataset = finished_run.dataset
    Dataset.objects.filter(pk=dataset.pk).update(created_by=finished_run.created_by)
    attempts = [(f"/library/vocabulary/{vocab.pk}/rename/", {"name": "mine"}),
                (f"/library/vocabulary/{vocab.pk}/delete/", {}),
                (f"/library/class/{grass.pk}/rename/", {"name": "mine"}),
                (f"/library/class/{grass.pk}/delete/", {}),
                (f"/library/dataset/{dataset.pk}/rename/", {"name": "mine"}),
                (f"/runs/{finished_run.pk}/label/", {"name": "mine", "notes": ""}),
                (f"/runs/{finished_run.pk}/delete/", {})]
    for url, data in attempts:
        assert bob.post(url, data).status_code in (403, 404), url
        assert bob.get(url).status_code in (403, 404, 405), url
    assert Vocabulary.objects.get(pk=vocab.pk).name == "street"
    assert VocabularyClass.objects.get(pk=grass.pk).name == "grass"
    assert Dataset.objects.get(pk=dataset.pk).name == dataset.name
    assert Run.objects.get(pk=finished_run.pk).name == ""


def test_second_user_rerun_makes_their_own_run_and_leaves_the_original(bob: Any, finished_run: Run) -> None:
    from ovdiff_web.common.engine_bridge import build_config

    Run.objects.filter(pk=finished_run.pk).update(settings=build_config("tiny").to_dict(), name="alice's")
    response = bob.post(f"/runs/{finished_run.pk}/rerun/")
    assert response.status_code in (302, 404)  # 404 once runs can be private (issue #18)
    original = Run.objects.get(pk=finished_run.pk)
    assert original.name == "alice's" and original.created_by == finished_run.created_by
    for run in Run.objects.exclude(pk=finished_run.pk):
        assert run.created_by.get_username() == "bob"
