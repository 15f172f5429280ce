"""Vocabularies and classes: bulk paste labelled by the engine labeller, person labels with who/when,
optimistic locking (409), filtering and pagination."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ovdiff_web.core.models import LabelSource, Vocabulary, VocabularyClass

pytestmark = pytest.mark.django_db


def _vocab(api: APIClient, name: str = "street", names: str = "") -> dict:
    body = {"name": name, "description": "d", **({"names": names} if names else {})}
    response = api.post("/api/vocabularies/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_with_pasted_names_uses_labeller(api: APIClient, user) -> None:
    body = _vocab(api, names="car\nroad, sky\n  \nperson")
    vocab = Vocabulary.objects.get(pk=body["id"])
    assert vocab.owner == user
    classes = {c.name: c for c in vocab.classes.all()}
    assert list(classes) == ["car", "road", "sky", "person"]  # order kept, the empty line ignored
    assert classes["sky"].is_stuff and classes["road"].is_stuff
    assert not classes["car"].is_stuff and not classes["person"].is_stuff
    assert all(c.label_source == LabelSource.LABELLER and c.label_note for c in classes.values())
    assert vocab.version == 1  # a new vocabulary starts at version 1


@pytest.mark.parametrize(("body", "field", "reason"), [
    ({"classes": [""]}, "classes", "blank"),
    ({"classes": ["cat", "  "]}, "classes", "class name 2 is blank"),
    ({"classes": []}, "classes", "at least one class name"),
    ({"classes": ["cat", "Cat"]}, "classes", "listed twice"),
    ({"classes": "cat"}, "classes", "list of class names"),
    ({"classes": [3]}, "classes", "string"),
    ({"names": ""}, "names", "at least one class name"),
    ({"names": " , , "}, "names", "blank"),
    ({"names": "cat, cat"}, "names", "'cat' is listed twice"),
    ({"names": "cat, , dog"}, "names", "class name 2 is blank"),
    ({"names": "cat", "classes": ["dog"]}, "classes", "not both"),
])
def test_create_refuses_empty_blank_or_repeated_names(api: APIClient, body: dict, field: str, reason: str) -> None:
    response = api.post("/api/vocabularies/", {"name": "empty", **body}, format="json")
    assert response.status_code == 400, response.content
    assert reason in " ".join(response.json()[field])
    assert not Vocabulary.objects.filter(name="empty").exists()


def test_create_with_a_list_of_classes(api: APIClient) -> None:
    response = api.post("/api/vocabularies/", {"name": "listed", "classes": ["cat", " grass "]}, format="json")
    assert response.status_code == 201, response.content
    assert [c["name"] for c in response.json()["classes"]] == ["cat", "grass"]


def test_bulk_classes_and_nested_list(api: APIClient) -> None:
    vid = _vocab(api)["id"]
    response = api.post(f"/api/vocabularies/{vid}/classes/bulk/", {"names": "grass, dog, Dog"}, format="json")
    assert response.status_code == 201
    assert [c["name"] for c in response.json()["created"]] == ["grass", "dog"]
    again = api.post(f"/api/vocabularies/{vid}/classes/bulk/", {"names": "dog, cat"}, format="json").json()
    assert again["skipped"] == ["dog"] and [c["name"] for c in again["created"]] == ["cat"]
    listed = api.get(f"/api/vocabularies/{vid}/classes/").json()
    assert listed["count"] == 3 and [c["name"] for c in listed["results"]] == ["grass", "dog", "cat"]
    assert api.post(f"/api/vocabularies/{vid}/classes/bulk/", {"names": " , "}, format="json").status_code == 400
    assert api.post(f"/api/vocabularies/{vid}/classes/bulk/", {}, format="json").status_code == 400


def test_validation_errors(api: APIClient) -> None:
    _vocab(api, "dup")
    assert api.post("/api/vocabularies/", {"name": "dup"}, format="json").status_code == 400
    assert api.post("/api/vocabularies/", {}, format="json").status_code == 400
    vid = Vocabulary.objects.get(name="dup").pk
    assert api.post("/api/classes/", {"vocabulary": vid, "name": "   "}, format="json").status_code == 400
    assert api.post("/api/classes/", {"name": "cat"}, format="json").status_code == 400
    assert api.post("/api/classes/", {"vocabulary": vid, "name": "cat"}, format="json").status_code == 201
    assert api.post("/api/classes/", {"vocabulary": vid, "name": "cat"}, format="json").status_code == 400
    bad_dir = api.post("/api/classes/", {"vocabulary": vid, "name": "x", "user_support_dir": "../../etc"},
                       format="json")
    assert bad_dir.status_code == 400 and "user_support_dir" in bad_dir.json()


def test_create_class_with_explicit_label_is_person(api: APIClient) -> None:
    vid = _vocab(api)["id"]
    body = api.post("/api/classes/", {"vocabulary": vid, "name": "sky", "is_stuff": False}, format="json").json()
    assert body["is_stuff"] is False and body["label_source"] == "person"


def test_set_label_records_who_and_when_and_conflicts(api: APIClient, user) -> None:
    vid = _vocab(api, names="tree")["id"]
    cls = VocabularyClass.objects.get(vocabulary_id=vid, name="tree")
    assert cls.version == 1
    response = api.post(f"/api/classes/{cls.pk}/set_label/", {"is_stuff": True, "expected_version": 1}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["is_stuff"] is True and body["label_source"] == "person"
    assert body["label_changed_by"] == "alice" and body["label_changed_at"] and body["version"] == 2
    cls.refresh_from_db()
    assert cls.label_changed_by == user
    stale = api.post(f"/api/classes/{cls.pk}/set_label/", {"is_stuff": False, "expected_version": 1}, format="json")
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    cls.refresh_from_db()
    assert cls.is_stuff is True  # the stale write changed nothing
    assert api.post(f"/api/classes/{cls.pk}/set_label/", {"is_stuff": "maybe"}, format="json").status_code == 400
    # without expected_version the last writer wins
    assert api.post(f"/api/classes/{cls.pk}/set_label/", {"is_stuff": False}, format="json").json()["version"] == 3


def test_vocabulary_update_optimistic_lock(api: APIClient) -> None:
    body = _vocab(api)
    vid, version = body["id"], body["version"]
    ok = api.patch(f"/api/vocabularies/{vid}/", {"description": "new", "expected_version": version}, format="json")
    assert ok.status_code == 200 and ok.json()["version"] == version + 1
    stale = api.patch(f"/api/vocabularies/{vid}/", {"description": "old", "expected_version": version},
                      format="json")
    assert stale.status_code == 409


def test_filtering_and_pagination(api: APIClient) -> None:
    vid = _vocab(api, names="car, bus, road, sky, truck")["id"]
    page = api.get("/api/classes/", {"vocabulary": vid, "page_size": 2}).json()
    assert page["count"] == 5 and page["next"] and len(page["results"]) == 2
    last = api.get("/api/classes/", {"vocabulary": vid, "page_size": 2, "page": 3}).json()
    assert [c["name"] for c in last["results"]] == ["truck"] and last["next"] is None
    assert api.get("/api/classes/", {"vocabulary": vid, "page": 99}).status_code == 404
    stuff = api.get("/api/classes/", {"vocabulary": vid, "is_stuff": "true"}).json()
    assert {c["name"] for c in stuff["results"]} == {"road", "sky"}
    assert api.get("/api/vocabularies/", {"name": "stre"}).json()["count"] == 1
    assert api.get("/api/vocabularies/", {"name": "zzz"}).json()["count"] == 0


def test_deleting_vocabulary_keeps_shared_artifacts(api: APIClient) -> None:
    from ovdiff_web.core.models import PrototypeBank, SupportSet

    vid = _vocab(api, names="cat")["id"]
    ss = SupportSet.objects.create(key="a" * 64, class_name="cat", prompt="cat", profile="tiny", status="ready")
    PrototypeBank.objects.create(support_set=ss, extractor="dino", key="b" * 64)
    assert api.delete(f"/api/vocabularies/{vid}/").status_code == 204
    assert SupportSet.objects.filter(pk=ss.pk).exists() and PrototypeBank.objects.count() == 1


def test_regenerate_validates_settings_and_queues(api: APIClient, settings) -> None:
    import os

    import redis

    settings.OVDIFF_QUEUE_PREFIX = f"regen{os.getpid()}-"  # private queue: no other session consumes it

    vid = _vocab(api, names="cat")["id"]
    cid = VocabularyClass.objects.get(vocabulary_id=vid).pk
    bad = api.post(f"/api/classes/{cid}/regenerate/", {"settings": {"support": {"nope": 1}}}, format="json")
    assert bad.status_code == 400 and "nope" in bad.json()["settings"][0]
    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    ok = api.post(f"/api/classes/{cid}/regenerate/", {"settings": {"support": {"seed": 7}}}, format="json")
    assert ok.status_code == 202 and ok.json()["task_id"]
    assert client.llen(f"regen{os.getpid()}-gpu") == 1  # routed to the gpu queue
    client.delete(f"regen{os.getpid()}-gpu")


def test_deleting_a_class_while_its_vocabulary_is_deleted_is_not_a_500(api: APIClient, monkeypatch) -> None:
    """Found by the schema fuzz on PostgreSQL (two requests at once): a class's DELETE whose vocabulary another
    request deleted in the meantime answered 500 when it moved the vocabulary's version. It answers 204 now."""
    from ovdiff_web.ops import cleanup

    vid = _vocab(api, names="cat, sky")["id"]
    cid = VocabularyClass.objects.get(vocabulary_id=vid, name="cat").pk
    real = cleanup.remove_class_files

    def meanwhile(class_ids):  # runs after the class row is gone, before the version moves
        Vocabulary.objects.filter(pk=vid).delete()
        return real(class_ids)

    monkeypatch.setattr(cleanup, "remove_class_files", meanwhile)
    assert api.delete(f"/api/classes/{cid}/").status_code == 204
    assert not Vocabulary.objects.filter(pk=vid).exists() and not VocabularyClass.objects.filter(pk=cid).exists()


def test_editing_a_class_deleted_meanwhile_is_a_404(api: APIClient, monkeypatch) -> None:
    """The same race on an edit: another request deletes the class after this one saved it and before it reads
    the class's new version back; a 404 saying so, never a 500."""
    from ovdiff_web.accounts import audit

    vid = _vocab(api, names="cat")["id"]
    cid = VocabularyClass.objects.get(vocabulary_id=vid, name="cat").pk
    real = audit.record

    def meanwhile(*args, **kwargs):
        out = real(*args, **kwargs)
        VocabularyClass.objects.filter(pk=cid).delete()
        return out

    monkeypatch.setattr(audit, "record", meanwhile)
    answer = api.patch(f"/api/classes/{cid}/", {"prompt": "a cat"}, format="json")
    assert answer.status_code == 404 and "deleted while this request ran" in answer.json()["detail"]
