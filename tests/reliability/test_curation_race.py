"""Two users curate the same class's support set at the same instant over HTTP against a live multi-threaded
server: with the version they loaded exactly one edit wins each round and the other gets 409; without one both
edits land, one after the other (the class row is locked first), so no edit is ever lost."""
from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.test_db_conflict import _make_vocabulary, _race, two_sessions  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
ROUNDS = 6


def test_concurrent_curation_edits_lose_nothing(two_sessions: Any) -> None:  # noqa: F811
    url, alice, bob = two_sessions
    cls = _make_vocabulary(url, alice)["classes"][0]
    curate = f"{url}/api/classes/{cls['id']}/support/curate/"
    seeds: list[int] = []
    for n in range(ROUNDS):
        version = alice.get(f"{url}/api/classes/{cls['id']}/").json()["version"]
        results = _race([lambda: alice.post(curate, json={"action": "add_seed", "seed": 100 + 2 * n,
                                                          "expected_version": version}),
                         lambda: bob.post(curate, json={"action": "add_seed", "seed": 101 + 2 * n,
                                                        "expected_version": version})])
        assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
        seeds.append(100 + 2 * n if results[0].status_code == 200 else 101 + 2 * n)
        loser = next(r for r in results if r.status_code == 409).json()
        assert loser["current_version"] == version + 1
    for n in range(ROUNDS):  # no expected version: both land, serialised by the lock
        results = _race([lambda: alice.post(curate, json={"action": "add_seed", "seed": 500 + 2 * n}),
                         lambda: bob.post(curate, json={"action": "add_seed", "seed": 501 + 2 * n})])
        assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
        seeds += [500 + 2 * n, 501 + 2 * n]
    versions = alice.get(f"{url}/api/classes/{cls['id']}/support/versions/?page_size=100").json()["results"]
    assert len(versions) == 3 * ROUNDS and versions[0]["number"] == 3 * ROUNDS
    assert versions[0]["extra_seeds"] == sorted(seeds), "every accepted edit is in the newest version"
