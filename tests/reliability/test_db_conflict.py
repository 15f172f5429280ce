"""Database: two users edit the same vocabulary's thing/stuff labels at the same instant, over HTTP against a
live multi-threaded server (each request its own thread and database connection). Optimistic locking with a
row lock: exactly one edit wins each round, the other gets 409 with a clear message, and nothing is lost."""
from __future__ import annotations

import threading
from typing import Any, Callable

import pytest
import requests
from rest_framework.authtoken.models import Token

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
ROUNDS = 8


def _race(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Fire the calls from separate threads released by one barrier."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def go(i: int) -> None:
        barrier.wait()
        out[i] = calls[i]()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


@pytest.fixture
def two_sessions(transactional_db: None, live_server: Any, user: Any, other_user: Any, media_root: Any
                 ) -> tuple[str, requests.Session, requests.Session]:
    sessions = []
    for u in (user, other_user):
        sess = requests.Session()
        sess.headers["Authorization"] = f"Token {Token.objects.create(user=u).key}"
        sessions.append(sess)
    return live_server.url, sessions[0], sessions[1]


def _make_vocabulary(url: str, sess: requests.Session) -> dict[str, Any]:
    response = sess.post(f"{url}/api/vocabularies/", json={"name": "shared", "names": "cat, sky, road"})
    assert response.status_code == 201, response.text
    # The owner shares it with bob, who may then edit it too (that is what makes the edits race).
    shared = sess.post(f"{url}/api/vocabularies/{response.json()['id']}/share/",
                       json={"visibility": "shared", "users": ["bob"]})
    assert shared.status_code == 200, shared.text
    return response.json()


def test_concurrent_label_patches_one_wins_other_409(two_sessions: Any) -> None:
    url, alice, bob = two_sessions
    vocab = _make_vocabulary(url, alice)
    cls = vocab["classes"][0]
    for _ in range(ROUNDS):
        current = alice.get(f"{url}/api/classes/{cls['id']}/").json()
        version, label = current["version"], current["is_stuff"]
        results = _race([
            lambda: alice.patch(f"{url}/api/classes/{cls['id']}/", json={"is_stuff": not label,
                                                                         "expected_version": version}),
            lambda: bob.patch(f"{url}/api/classes/{cls['id']}/", json={"is_stuff": label, "prompt": "bob's prompt",
                                                                       "expected_version": version}),
        ])
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409).json()
        assert "someone else changed this" in loser["detail"] and loser["current_version"] == version + 1
        winner = next(r for r in results if r.status_code == 200).json()
        stored = alice.get(f"{url}/api/classes/{cls['id']}/").json()
        # The stored row is exactly the winner's edit (no mix of both, no silent overwrite).
        assert stored["version"] == version + 1 and stored["is_stuff"] == winner["is_stuff"]
        assert stored["label_source"] == "person" or stored["is_stuff"] == label


def test_concurrent_set_label_one_wins_other_409(two_sessions: Any) -> None:
    url, alice, bob = two_sessions
    vocab = _make_vocabulary(url, alice)
    cls = vocab["classes"][1]
    for _ in range(ROUNDS):
        current = alice.get(f"{url}/api/classes/{cls['id']}/").json()
        version = current["version"]
        results = _race([
            lambda: alice.post(f"{url}/api/classes/{cls['id']}/set_label/",
                               json={"is_stuff": True, "expected_version": version}),
            lambda: bob.post(f"{url}/api/classes/{cls['id']}/set_label/",
                             json={"is_stuff": False, "expected_version": version}),
        ])
        assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
        winner = next(r for r in results if r.status_code == 200).json()
        stored = bob.get(f"{url}/api/classes/{cls['id']}/").json()
        assert stored["version"] == version + 1 and stored["is_stuff"] == winner["is_stuff"]
        assert stored["label_changed_by"] == winner["label_changed_by"]


def test_concurrent_vocabulary_edits_one_wins_other_409(two_sessions: Any) -> None:
    url, alice, bob = two_sessions
    vocab = _make_vocabulary(url, alice)
    for i in range(ROUNDS):
        version = alice.get(f"{url}/api/vocabularies/{vocab['id']}/").json()["version"]
        results = _race([
            lambda: alice.patch(f"{url}/api/vocabularies/{vocab['id']}/",
                                json={"description": f"alice {i}", "expected_version": version}),
            lambda: bob.patch(f"{url}/api/vocabularies/{vocab['id']}/",
                              json={"description": f"bob {i}", "expected_version": version}),
        ])
        assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
        winner = next(r for r in results if r.status_code == 200).json()
        stored = alice.get(f"{url}/api/vocabularies/{vocab['id']}/").json()
        assert stored["description"] == winner["description"] and stored["version"] == version + 1


def test_ui_label_toggle_conflict_is_explained(transactional_db: None, user: Any, other_user: Any,
                                               media_root: Any) -> None:
    """Two people clicking thing/stuff on the dashboard with the same page state: the second is told."""
    from django.test import Client

    from ovdiff_web.core.models import Vocabulary
    from ovdiff_web.vocabularies.services import add_classes
    from ovdiff_web.accounts.models import Visibility

    vocab = Vocabulary.objects.create(name="ui-shared", owner=user, visibility=Visibility.SHARED)
    vocab.shared_users.add(other_user)
    (cls,), _ = add_classes(vocab, ["tree"])
    url = f"/vocabularies/{vocab.pk}/classes/{cls.pk}/label/"
    first, second = Client(), Client()
    first.force_login(user)
    second.force_login(other_user)
    assert first.post(url, {"is_stuff": "1", "version": cls.version}).status_code == 302
    response = second.post(url, {"is_stuff": "0", "version": cls.version}, follow=True)
    assert "changed by someone else" in response.content.decode()
    cls.refresh_from_db()
    assert cls.is_stuff is True and cls.label_changed_by == user
