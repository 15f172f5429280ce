"""Adding a teammate: ``manage.py add_teammate`` and the staff-only Team page create a user who can sign in;
non-staff are refused, anonymous users sent to the login page; sharing a vocabulary with the new teammate by
username makes it readable (and editable) by them."""
from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from ovdiff_web.accounts.audit import AuditEntry
from ovdiff_web.core.models import Vocabulary, VocabularyClass

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("carol", password="pw-carol-123", is_staff=True)


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _login_works(username: str, password: str) -> bool:
    """The dashboard's own login form (not force_login): the password really opens the account."""
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    return response.status_code == 302 and client.get("/vocabularies/").status_code == 200


def test_command_with_a_password_creates_a_user_who_can_sign_in() -> None:
    out = io.StringIO()
    call_command("add_teammate", "dora", "--password", "tulip-harbour-91", stdout=out)
    assert out.getvalue().strip() == "added dora (member)"  # a typed password is never printed
    dora = get_user_model().objects.get(username="dora")
    assert dora.is_active and not dora.is_staff
    assert _login_works("dora", "tulip-harbour-91") and not _login_works("dora", "wrong-password-1")


def test_command_generates_and_prints_a_password_once_and_makes_staff() -> None:
    out = io.StringIO()
    call_command("add_teammate", "erin", "--staff", "--no-input", stdout=out)
    text = out.getvalue()
    assert text.startswith("added erin (staff)\n")
    password = re.search(r"initial password \(shown once\): (\S+)", text).group(1)
    assert len(password) >= 16 and text.count(password) == 1
    assert get_user_model().objects.get(username="erin").is_staff
    assert _login_works("erin", password)


def test_command_refuses_a_taken_name_or_weak_password_and_creates_nothing(user: Any) -> None:
    with pytest.raises(CommandError, match="username: the username 'Alice' is taken"):
        call_command("add_teammate", "Alice", "--no-input", stdout=io.StringIO())
    with pytest.raises(CommandError, match="password: .*too short"):
        call_command("add_teammate", "fay", "--password", "abc", stdout=io.StringIO())
    with pytest.raises(CommandError, match="username: "):
        call_command("add_teammate", "bad name!", "--no-input", stdout=io.StringIO())
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]


def test_staff_page_lists_users_and_adds_a_teammate(staff: Any, user: Any) -> None:
    carol = _signed_in(staff)
    page = carol.get("/team/")
    html = page.content.decode()
    assert page.status_code == 200 and 'data-user="alice"' in html and 'data-user="carol"' in html
    assert 'href="/team/"' in html  # the staff nav link
    response = carol.post("/team/", {"username": "gus", "password": ""})
    html = response.content.decode()
    assert response.status_code == 200 and 'data-created="gus"' in html and response["Cache-Control"] == "no-store"
    password = re.search(r"<code data-generated-password>([^<]+)</code>", html).group(1)
    assert 'data-user="gus"' in html
    assert _login_works("gus", password)
    assert "data-generated-password" not in carol.get("/team/").content.decode()  # shown once
    entry = AuditEntry.objects.get(action="add_teammate")
    assert entry.username == "carol" and entry.changes["username"] == [None, "gus"]
    # a typed password, as staff
    response = carol.post("/team/", {"username": "hal", "password": "lantern-oak-4471", "staff": "on"})
    assert response.status_code == 200 and "data-generated-password" not in response.content.decode()
    assert get_user_model().objects.get(username="hal").is_staff and _login_works("hal", "lantern-oak-4471")


def test_staff_page_refusals_name_the_field_and_create_nothing(staff: Any, user: Any) -> None:
    carol = _signed_in(staff)
    response = carol.post("/team/", {"username": "alice", "password": ""})
    assert response.status_code == 400 and "the username &#x27;alice&#x27; is taken" in response.content.decode()
    response = carol.post("/team/", {"username": "ivy", "password": "123"})
    assert response.status_code == 400 and "too short" in response.content.decode()
    response = carol.post("/team/", {"username": "", "password": ""})
    assert response.status_code == 400
    assert not get_user_model().objects.filter(username="ivy").exists()
    assert get_user_model().objects.count() == 2


def test_non_staff_are_refused_and_anonymous_sent_to_login(user: Any) -> None:
    alice = _signed_in(user)
    assert alice.get("/team/").status_code == 403
    assert alice.post("/team/", {"username": "jo", "password": ""}).status_code == 403
    assert 'href="/team/"' not in alice.get("/vocabularies/").content.decode()
    response = Client().get("/team/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert Client().post("/team/", {"username": "jo"}).status_code == 302
    assert not get_user_model().objects.filter(username="jo").exists()


def test_sharing_a_vocabulary_with_a_new_teammate(user: Any, staff: Any) -> None:
    _signed_in(staff).post("/team/", {"username": "kim", "password": "meadow-kettle-385"})
    kim = Client()
    assert kim.post("/login/", {"username": "kim", "password": "meadow-kettle-385"}).status_code == 302
    alice = _signed_in(user)
    vocab = Vocabulary.objects.create(name="pets", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat")
    assert kim.get(f"/vocabularies/{vocab.pk}/").status_code == 404  # private until shared
    response = alice.post(f"/library/vocabulary/{vocab.pk}/share/", {"visibility": "shared", "users": "kim"})
    assert response.status_code == 302
    page = kim.get(f"/vocabularies/{vocab.pk}/")
    assert page.status_code == 200 and "cat" in page.content.decode()
    assert kim.get(f"/api/vocabularies/{vocab.pk}/").status_code == 200
    assert kim.get(f"/vocabularies/{vocab.pk}/history/").status_code == 200
    # shared users may edit: kim flips the class, and the history names kim
    assert kim.post(f"/vocabularies/{vocab.pk}/classes/{cls.pk}/label/",
                    {"version": cls.version, "is_stuff": "1"}).status_code == 302
    assert 'data-who>user kim<' in alice.get(f"/classes/{cls.pk}/history/").content.decode()
