"""Every edit leaves an append-only audit entry (who, when, what changed, from which version); a malformed
``expected_version`` is a 400, not a 409."""
from __future__ import annotations

from typing import Any

import pytest

from ovdiff_web.accounts.audit import AppendOnlyError, AuditEntry

pytestmark = pytest.mark.django_db


def test_edits_are_audited_with_old_new_and_version(api: Any, user: Any) -> None:
    vocab = api.post("/api/vocabularies/", {"name": "v", "names": "cat, sky"}, format="json").json()
    cls = vocab["classes"][0]
    r = api.post(f"/api/classes/{cls['id']}/set_label/", {"is_stuff": not cls["is_stuff"],
                                                          "expected_version": cls["version"]}, format="json")
    assert r.status_code == 200
    api.patch(f"/api/classes/{cls['id']}/", {"prompt": "a fluffy cat", "expected_version": cls["version"] + 1},
              format="json")
    api.patch(f"/api/vocabularies/{vocab['id']}/", {"description": "pets"}, format="json")
    api.post(f"/api/vocabularies/{vocab['id']}/share/", {"visibility": "public"}, format="json")
    history = api.get(f"/api/classes/{cls['id']}/history/").json()["results"]
    assert [h["action"] for h in history] == ["update", "set_label"]
    label = history[1]
    assert label["user"] == "alice" and label["from_version"] == cls["version"]
    assert label["changes"] == {"is_stuff": [cls["is_stuff"], not cls["is_stuff"]]}
    assert history[0]["changes"] == {"prompt": ["", "a fluffy cat"]} and history[0]["from_version"] == cls["version"] + 1
    actions = [h["action"] for h in api.get(f"/api/vocabularies/{vocab['id']}/history/").json()["results"]]
    assert actions == ["share", "update", "set_label", "add_classes", "create"]
    api.delete(f"/api/vocabularies/{vocab['id']}/")
    assert AuditEntry.objects.filter(action="delete", object_type="Vocabulary").exists()


def test_dashboard_label_flip_is_audited(client: Any, user: Any, media_root: Any) -> None:
    from ovdiff_web.core.models import Vocabulary

    client.force_login(user)
    client.post("/vocabularies/", {"name": "v", "class_names": "sky"})
    cls = Vocabulary.objects.get(name="v").classes.get()
    client.post(f"/vocabularies/{cls.vocabulary_id}/classes/{cls.pk}/label/",
                {"is_stuff": "0" if cls.is_stuff else "1", "version": cls.version})
    entry = AuditEntry.objects.get(action="set_label", object_type="VocabularyClass")
    assert entry.user == user and entry.from_version == cls.version and entry.object_id == str(cls.pk)


@pytest.mark.parametrize("how", ["set_label", "patch", "dashboard"])
def test_every_flip_updates_label_note_and_the_vocabulary_history(api: Any, client: Any, user: Any, how: str) -> None:
    """The probe's grass stuff->thing flip: ``label_note`` no longer names the labeller's reason and the flip is in
    the vocabulary's history (its version moved), whichever way it was made."""
    vocab = api.post("/api/vocabularies/", {"name": "v", "names": "cat, grass"}, format="json").json()
    grass = vocab["classes"][1]
    assert grass["is_stuff"] and grass["label_note"]
    if how == "set_label":
        r = api.post(f"/api/classes/{grass['id']}/set_label/", {"is_stuff": False}, format="json")
    elif how == "patch":
        r = api.patch(f"/api/classes/{grass['id']}/", {"is_stuff": False}, format="json")
    else:
        client.force_login(user)
        r = client.post(f"/vocabularies/{vocab['id']}/classes/{grass['id']}/label/",
                        {"is_stuff": "0", "version": grass["version"]})
    assert r.status_code in (200, 302), r.content
    now = api.get(f"/api/classes/{grass['id']}/").json()
    assert not now["is_stuff"]
    assert now["label_note"] != grass["label_note"] and "set to thing by user alice" in now["label_note"]
    assert "was stuff" in now["label_note"]
    history = api.get(f"/api/vocabularies/{vocab['id']}/history/").json()["results"]
    flip = history[0]
    assert flip["action"] == "set_label" and flip["user"] == "alice"
    assert flip["changes"] == {"classes.grass.is_stuff": [True, False]}
    assert flip["from_version"] == vocab["version"]
    assert api.get(f"/api/vocabularies/{vocab['id']}/").json()["version"] == vocab["version"] + 1


def test_audit_entries_are_append_only(api: Any, user: Any) -> None:
    api.post("/api/vocabularies/", {"name": "v"}, format="json")
    entry = AuditEntry.objects.get()
    entry.action = "forged"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()


@pytest.mark.parametrize("bad", ["abc", -1, 0, 1.5, True, [1], {"v": 1}, "1e3"])
def test_expected_version_of_the_wrong_type_is_400(api: Any, bad: Any) -> None:
    vocab = api.post("/api/vocabularies/", {"name": "v", "names": "cat"}, format="json").json()
    cls = vocab["classes"][0]
    for url, body in ((f"/api/vocabularies/{vocab['id']}/", {"description": "x"}),
                      (f"/api/classes/{cls['id']}/", {"prompt": "x"})):
        response = api.patch(url, {**body, "expected_version": bad}, format="json")
        assert response.status_code == 400 and "expected_version" in response.json(), (url, bad, response.content)
    response = api.post(f"/api/classes/{cls['id']}/set_label/", {"is_stuff": True, "expected_version": bad},
                        format="json")
    assert response.status_code == 400
