"""History pages of a vocabulary and of a class: a thing/stuff flip, a rename, a new support-set version and going
back to an older one are each listed with who and when and link to the class, the support version and the runs
that used it; the "Decided by" badge names the user; readers only (owner and those shared with; a second user
404, anonymous users the login page); long histories are paginated."""
from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from ovdiff_web.accounts import access
from ovdiff_web.accounts.audit import AuditEntry
from ovdiff_web.core.models import Run, Vocabulary, VocabularyClass

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def edited(ui: Any, user: Any) -> dict[str, Any]:
    """Alice's vocabulary, made and edited through the dashboard: "cat" flipped to stuff, renamed "kitty", a support version
    (seed 7), then back to the set as built, then a run that used support version 1."""
    assert ui.post("/vocabularies/", {"name": "pets", "description": "", "class_names": "cat\ngrass"}).status_code == 302
    vocab = Vocabulary.objects.get(name="pets")
    cls = vocab.classes.get(name="cat")
    assert not cls.is_stuff
    assert ui.post(f"/vocabularies/{vocab.pk}/classes/{cls.pk}/label/",
                   {"version": cls.version, "is_stuff": "1"}).status_code == 302
    assert ui.post(f"/library/class/{cls.pk}/rename/", {"name": "kitty"}).status_code == 302
    cls.refresh_from_db()
    assert ui.post(f"/classes/{cls.pk}/curate/", {"action": "add_seed", "seed": "7",
                                                    "version": cls.version}).status_code == 302
    cls.refresh_from_db()
    assert cls.support_version == 1
    run = Run.objects.create(vocabulary=vocab, profile="tiny", status=Run.Status.SUCCEEDED, created_by=user,
                             vocabulary_snapshot=[c.snapshot() for c in vocab.classes.all()])
    assert ui.post(f"/classes/{cls.pk}/curate/", {"action": "go_back", "number": "0",
                                                    "version": cls.version}).status_code == 302
    cls.refresh_from_db()
    assert cls.support_version == 0 and cls.name == "kitty" and cls.is_stuff
    return {"vocab": vocab, "cls": cls, "run": run}


def _rows(html: str) -> dict[str, str]:
    """kind -> the first row of that kind (newest first)."""
    out: dict[str, str] = {}
    for kind, row in re.findall(r'<tr data-history-row="([a-z_]+)"[^>]*>(.*?)</tr>', html, flags=re.S):
        out.setdefault(kind, row)
    return out


def test_class_history_lists_flip_rename_support_version_and_go_back(ui: Any, edited: dict[str, Any]) -> None:
    cls, run = edited["cls"], edited["run"]
    response = ui.get(f"/classes/{cls.pk}/history/")
    assert response.status_code == 200
    html = response.content.decode()
    rows = _rows(html)
    assert {"flip", "rename", "support", "go_back"} <= set(rows)
    assert "label thing → stuff" in rows["flip"]
    assert "renamed “cat” → “kitty”" in rows["rename"]
    assert "new support-set version 1: added the images of seed 7" in rows["support"]
    assert f'href="/classes/{cls.pk}/#support-v1"' in rows["support"]
    assert f'href="/runs/{run.pk}/"' in rows["support"]  # the run that used version 1
    assert "went back to version 0 (as built), was version 1" in rows["go_back"]
    assert f'href="/classes/{cls.pk}/#support-v0"' in rows["go_back"]
    for row in rows.values():  # who and when
        assert "<td data-who>user alice</td>" in row and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row)
    # newest first: the go-back is above the support version, which is above the rename and the flip
    order = [html.index(f'data-history-row="{k}"') for k in ("go_back", "support", "rename", "flip")]
    assert order == sorted(order)
    # the anchors the links lead to exist on the class page, and the class page links to its history
    page = ui.get(f"/classes/{cls.pk}/").content.decode()
    assert 'id="support-v1"' in page and 'id="support-v0"' in page
    assert f'href="/classes/{cls.pk}/history/"' in page


def test_vocabulary_history_shows_each_change_once_with_class_links(ui: Any, edited: dict[str, Any]) -> None:
    vocab, cls = edited["vocab"], edited["cls"]
    detail = ui.get(f"/vocabularies/{vocab.pk}/").content.decode()
    assert f'href="/vocabularies/{vocab.pk}/history/"' in detail
    html = ui.get(f"/vocabularies/{vocab.pk}/history/").content.decode()
    rows = _rows(html)
    assert {"flip", "rename", "support", "go_back", "create"} <= set(rows)
    for kind in ("flip", "rename", "support", "go_back"):
        assert f'<a href="/classes/{cls.pk}/" data-about>kitty</a>' in rows[kind]
        assert "user alice" in rows[kind]
    # the flip is recorded on the class and on the vocabulary; the page lists it once
    assert AuditEntry.objects.filter(object_type="Vocabulary", action="set_label").count() == 1
    assert html.count('data-history-row="flip"') == 1
    assert "vocabulary created as “pets”" in rows["create"]
    # a flip through the API is listed once too, as is a rename of the vocabulary itself
    assert ui.patch(f"/api/classes/{cls.pk}/", {"is_stuff": False},
                    content_type="application/json").status_code == 200
    assert ui.post(f"/library/vocabulary/{vocab.pk}/rename/", {"name": "animals"}).status_code == 302
    html = ui.get(f"/vocabularies/{vocab.pk}/history/").content.decode()
    assert html.count('data-history-row="flip"') == 2 and "label stuff → thing" in _rows(html)["flip"]
    assert "vocabulary renamed “pets” → “animals”" in _rows(html)["rename"]


def test_decided_by_badge_names_the_user(ui: Any, edited: dict[str, Any]) -> None:
    html = ui.get(f"/vocabularies/{edited['vocab'].pk}/").content.decode()
    cell = html.split(f'id="class-{edited["cls"].pk}"')[1].split("data-source>")[1].split("</td>")[0]
    assert '<span class="badge">user alice</span>' in cell and ">person<" not in cell


def test_history_is_for_readers_only(ui: Any, edited: dict[str, Any], other_user: Any, client: Any) -> None:
    vocab, cls = edited["vocab"], edited["cls"]
    urls = [f"/vocabularies/{vocab.pk}/history/", f"/classes/{cls.pk}/history/"]
    anonymous = Client()
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    bob = _client(other_user)
    for url in urls:
        assert bob.get(url).status_code == 404  # private: its existence is not revealed
    assert bob.get("/vocabularies/999999/history/").status_code == 404
    access.share(vocab, visibility="shared", users=[other_user])
    for url in urls:
        response = bob.get(url)
        assert response.status_code == 200 and "user alice" in response.content.decode()
    assert ui.post(urls[0]).status_code == 405


def test_runs_the_reader_may_not_open_are_not_linked(ui: Any, edited: dict[str, Any], other_user: Any) -> None:
    vocab, cls, run = edited["vocab"], edited["cls"], edited["run"]
    access.share(vocab, visibility="shared", users=[other_user])  # the vocabulary, not alice's run
    html = _client(other_user).get(f"/classes/{cls.pk}/history/").content.decode()
    assert f'href="/runs/{run.pk}/"' not in html and f'href="/classes/{cls.pk}/#support-v1"' in html
    access.share(run, visibility="shared", users=[other_user])
    assert f'href="/runs/{run.pk}/"' in _client(other_user).get(f"/classes/{cls.pk}/history/").content.decode()


def test_a_long_history_is_paginated(ui: Any, user: Any) -> None:
    vocab = Vocabulary.objects.create(name="many", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat")
    for i in range(60):
        assert ui.post(f"/library/class/{cls.pk}/rename/", {"name": f"cat {i}"}).status_code == 302
    first = ui.get(f"/classes/{cls.pk}/history/").content.decode()
    assert first.count("data-history-row=") == 50 and "page 1 of 2" in first and "?page=2" in first
    assert "renamed “cat 58” → “cat 59”" in first
    second = ui.get(f"/classes/{cls.pk}/history/?page=2").content.decode()
    assert second.count("data-history-row=") == 10 and "renamed “cat” → “cat 0”" in second
    assert ui.get(f"/classes/{cls.pk}/history/?page=zz").status_code == 200
