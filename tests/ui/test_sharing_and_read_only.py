"""Dashboard "Sharing" form (owner or staff only; same service and audit as the API's share/) and read-only
viewers seeing no controls they cannot use."""
from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ovdiff_web.accounts.audit import AuditEntry
from ovdiff_web.core.models import Vocabulary, VocabularyClass

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def vocab(user: Any) -> Vocabulary:
    vocab = Vocabulary.objects.create(name="pets", owner=user)
    VocabularyClass.objects.create(vocabulary=vocab, name="cat")
    return vocab


def test_owner_shares_a_vocabulary_from_its_page(ui: Any, vocab: Vocabulary, other_user: Any) -> None:
    from django.contrib.auth.models import Group

    Group.objects.create(name="team")
    html = ui.get(f"/vocabularies/{vocab.pk}/").content.decode()
    assert "data-sharing" in html and f'action="/library/vocabulary/{vocab.pk}/share/"' in html
    response = ui.post(f"/library/vocabulary/{vocab.pk}/share/",
                       {"visibility": "shared", "users": "bob", "groups": "team"})
    assert response.status_code == 302
    vocab.refresh_from_db()
    assert vocab.visibility == "shared"
    assert list(vocab.shared_users.values_list("username", flat=True)) == ["bob"]
    assert list(vocab.shared_groups.values_list("name", flat=True)) == ["team"]
    entry = AuditEntry.objects.get(object_type="Vocabulary", object_id=str(vocab.pk), action="share")
    assert entry.username == "alice" and entry.changes["visibility"] == ["private", "shared"]
    assert entry.changes["users"] == [[], ["bob"]]
    page = ui.get(f"/vocabularies/{vocab.pk}/").content.decode()
    assert 'value="bob"' in page and 'value="shared" checked' in page
    # the API reads the same sharing
    api = _client(other_user)
    assert api.get(f"/api/vocabularies/{vocab.pk}/").json()["shared_with"] == ["bob"]


def test_unknown_user_or_group_is_a_message_and_changes_nothing(ui: Any, vocab: Vocabulary) -> None:
    response = ui.post(f"/library/vocabulary/{vocab.pk}/share/",
                       {"visibility": "public", "users": "nobody-here", "groups": ""}, follow=True)
    assert response.status_code == 200
    assert "Sharing not changed: users: no such user: nobody-here" in response.content.decode()
    response = ui.post(f"/library/vocabulary/{vocab.pk}/share/", {"visibility": "public", "groups": "ghosts"},
                       follow=True)
    assert "no such group: ghosts" in response.content.decode()
    response = ui.post(f"/library/vocabulary/{vocab.pk}/share/", {"visibility": "everyone"}, follow=True)
    assert "visibility: must be one of" in response.content.decode()
    api = ui.post(f"/api/vocabularies/{vocab.pk}/share/", {"visibility": "public", "users": ["nobody-here"]},
                  content_type="application/json")  # the API answers through the same service function
    assert api.status_code == 400 and api.json()["users"] == ["no such user: nobody-here"]
    vocab.refresh_from_db()
    assert vocab.visibility == "private" and not AuditEntry.objects.filter(action="share").exists()
    assert ui.post(f"/library/bogus/{vocab.pk}/share/", {"visibility": "public"}).status_code == 404


def test_second_user_cannot_share_and_sees_no_form(vocab: Vocabulary, other_user: Any) -> None:
    from ovdiff_web.accounts import access

    bob = _client(other_user)
    url = f"/library/vocabulary/{vocab.pk}/share/"
    assert bob.post(url, {"visibility": "public"}).status_code == 404  # private: not even readable
    access.share(vocab, visibility="public")
    assert "data-sharing" not in bob.get(f"/vocabularies/{vocab.pk}/").content.decode()
    assert bob.post(url, {"visibility": "private"}).status_code == 403
    access.share(vocab, visibility="shared", users=[other_user])  # an editor, but not the owner
    assert bob.post(url, {"visibility": "private", "users": "bob"}).status_code == 403
    vocab.refresh_from_db()
    assert vocab.visibility == "shared" and not AuditEntry.objects.filter(action="share").exists()


def test_sharing_form_on_dataset_and_run_pages(ui: Any, finished_run: Any, other_user: Any) -> None:
    dataset = finished_run.dataset
    bob = _client(other_user)
    for kind, page, obj in (("dataset", f"/datasets/{dataset.pk}/", dataset),
                            ("run", f"/runs/{finished_run.pk}/", finished_run)):
        assert "data-sharing" in ui.get(page).content.decode()
        assert bob.get(page).status_code == 404
        assert bob.post(f"/library/{kind}/{obj.pk}/share/", {"visibility": "public"}).status_code == 404
        assert ui.post(f"/library/{kind}/{obj.pk}/share/", {"visibility": "public"}).status_code == 302
        obj.refresh_from_db()
        assert obj.visibility == "public"
        html = bob.get(page).content.decode()
        assert "data-sharing" not in html and "data-delete-link" not in html and "data-manage" not in html
        assert bob.post(f"/library/{kind}/{obj.pk}/share/", {"visibility": "private"}).status_code == 403
    assert AuditEntry.objects.filter(action="share").count() == 2
    run_html = bob.get(f"/runs/{finished_run.pk}/").content.decode()
    assert f"/runs/{finished_run.pk}/label/" not in run_html and "data-rerun" in run_html


def test_staff_sees_and_uses_the_sharing_form(vocab: Vocabulary, django_user_model: Any) -> None:
    staff = _client(django_user_model.objects.create_user("root", password="pw-root-123", is_staff=True))
    assert "data-sharing" in staff.get(f"/vocabularies/{vocab.pk}/").content.decode()
    assert staff.post(f"/library/vocabulary/{vocab.pk}/share/", {"visibility": "public"}).status_code == 302
    vocab.refresh_from_db()
    assert vocab.visibility == "public"


EDIT_MARKERS = ("data-manage", "/rename/", "/delete/", "/label/", "/prompt/", "/add/", "/import/", "data-flip")


def test_read_only_viewer_sees_no_edit_controls_and_owner_does(ui: Any, vocab: Vocabulary, other_user: Any) -> None:
    from ovdiff_web.accounts import access

    access.share(vocab, visibility="public")
    cls = vocab.classes.get()
    bob = _client(other_user)
    owner_page = ui.get(f"/vocabularies/{vocab.pk}/").content.decode()
    reader_page = bob.get(f"/vocabularies/{vocab.pk}/").content.decode()
    for marker in EDIT_MARKERS:
        assert marker in owner_page, marker
        assert marker not in reader_page, marker
    assert "cat" in reader_page and "data-read-only" in reader_page and "data-read-only" not in owner_page
    owner_class = ui.get(f"/classes/{cls.pk}/").content.decode()
    reader_class = bob.get(f"/classes/{cls.pk}/").content.decode()
    for marker in ('data-form="regenerate"', "/regenerate/", "data-manage", 'enctype="multipart/form-data"'):
        assert marker in owner_class, marker
        assert marker not in reader_class, marker
    # shared with bob by name: he may edit, so he sees the controls (but not the sharing form)
    access.share(vocab, visibility="shared", users=[other_user])
    editor_page = bob.get(f"/vocabularies/{vocab.pk}/").content.decode()
    assert "data-manage" in editor_page and "/label/" in editor_page and "data-sharing" not in editor_page
    assert 'data-form="regenerate"' in bob.get(f"/classes/{cls.pk}/").content.decode()


def test_runs_list_offers_cancel_only_on_runs_the_viewer_may_change(ui: Any, finished_run: Any,
                                                                    other_user: Any) -> None:
    from ovdiff_web.accounts import access
    from ovdiff_web.core.models import Run

    Run.objects.filter(pk=finished_run.pk).update(status=Run.Status.RUNNING)
    access.share(finished_run, visibility="public")
    button = f'form="cancel-{finished_run.pk}"'
    assert button in ui.get("/runs/").content.decode()
    reader = _client(other_user).get("/runs/").content.decode()
    assert f"/runs/{finished_run.pk}/" in reader and button not in reader
    assert f"/runs/{finished_run.pk}/cancel/" not in reader
