"""Object access as a second user: every write route of the API, the dashboard and the admin, filled with
alice's objects, refuses bob (403/404/405 or a login redirect) and leaves alice's objects unchanged; private objects
are invisible (404) to bob; public ones readable but not writable; sharing makes them editable; staff may do all.

The routes are enumerated from the URL conf, so a new route is covered (or fails ``test_every_object_kwarg_is_filled``)
without editing this file."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.ui.factories import make_demo_dataset, make_finished_run

pytestmark = pytest.mark.django_db
WRITE_METHODS = ("post", "put", "patch", "delete")
# Writes that only READ the object (into a new object of the caller's): allowed on what the caller may read.
READ_INTO = {"datasets/{pk}/import/", "runs/{pk}/rerun/"}  # rerun: a new run of the caller's own


def _templates(patterns: list[Any] | None = None, prefix: str = "") -> Iterator[str]:
    """Every URL pattern as a template with ``{name}`` placeholders (DRF format suffixes filled as .json)."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        text = str(entry.pattern)
        text = re.sub(r"\\\.\(\?P<format>[^)]*\)/\?", ".json", text)
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text)
        text = re.sub(r"\.?<drf_format_suffix:\w+>", "", text)
        text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)
        text = text.lstrip("^").rstrip("$").replace("\\.", ".").replace("\\Z", "")
        if isinstance(entry, URLResolver):
            yield from _templates(entry.url_patterns, prefix + text)
        elif isinstance(entry, URLPattern):
            yield prefix + text


OBJECT_TEMPLATES = sorted({t for t in _templates() if "{" in t and "{url}" not in t and "{app_label}" not in t})
ADMIN_MODELS = {"vocabulary": "vocab", "vocabularyclass": "cls", "dataset": "dataset", "run": "run",
                "imageresult": "result", "runstage": "stage", "runshard": "stage", "supportset": "support",
                "supportimage": "image", "prototypebank": "support"}


@pytest.fixture
def alice_world(user: Any, media_root: Path, tmp_path: Path) -> dict[str, Any]:
    """alice's private vocabulary + class, dataset, finished run (with files), a support set of her uploads (used by
    her class) with one image, a segmentation."""
    from ovdiff_web.core.models import RunStage, SupportImage, SupportSet, Vocabulary, VocabularyClass

    vocab = Vocabulary.objects.create(name="alice-v", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat")
    dataset = make_demo_dataset(tmp_path / "demo", owner=user)
    run = make_finished_run(dataset, user, media_root)
    support = SupportSet.objects.create(key="k" * 64, class_name="cat", prompt="cat", profile="tiny",
                                        source=SupportSet.Source.USER, restricted=True)  # built from her uploads
    support.classes.add(cls)
    image = SupportImage.objects.create(support_set=support, index=0, image="support/x.png")
    token = "a" * 32
    seg_dir = media_root / "segment" / token
    seg_dir.mkdir(parents=True)
    (seg_dir / "meta.json").write_text(json.dumps({"user_id": user.pk, "profile": "tiny", "class_names": ["cat"]}))
    from ovdiff_web.integrations.models import LabelStudioConnection, hash_token

    connection = LabelStudioConnection.objects.create(owner=user, name="alice-ls", token_hash=hash_token("alice-ls"),
                                                      label_studio_url="http://127.0.0.1:9", access_token="x",
                                                      profile="tiny")
    return {"vocab": vocab, "cls": cls, "dataset": dataset, "run": run, "result": run.image_results.first(),
            "stage": RunStage.objects.filter(run=run).first(), "support": support, "image": image, "token": token,
            "connection": connection}


def _fill(template: str, world: dict[str, Any]) -> str:
    """A concrete URL naming alice's object for every placeholder (by the route's leading segment)."""
    parts = [p for p in template.split("/") if p]
    head = parts[1] if parts[0] in ("api", "admin") and len(parts) > 1 else parts[0]
    if parts[0] == "admin":
        head = parts[2] if len(parts) > 2 else head
    if head == "library":  # library/<kind>/<pk>/...: alice's vocabulary
        head = "vocabularies"
    if head == "integrations":  # integrations/label-studio/<id>/..., api/integrations/label-studio/<pk>/...
        head = "label-studio"
    owner_of_pk = {"runs": "run", "vocabularies": "vocab", "classes": "cls", "datasets": "dataset",
                   "support-sets": "support", "banks": "support", "support-images": "image",
                   "predictions": "run", "segment": "run",  # prediction jobs are runs
                   "label-studio": "connection"}
    values = {
        "pk": world[owner_of_pk.get(head, "run")].pk if head in owner_of_pk else None,
        "object_id": world[ADMIN_MODELS[head]].pk if head in ADMIN_MODELS else 1,
        "class_pk": world["cls"].pk, "result_pk": world["result"].pk, "image_pk": world["image"].pk,
        "gt": 0, "pred": 0, "kind": "vocabulary" if "library/" in template else "pred", "index": 0, "fmt": "json", "layer": "fg_mask", "task_id": "x" * 8,
        "token": world["token"], "path": world["result"].prediction, "user_id": 1, "content_type_id": 1,
        "id": 1, "connection_id": world["connection"].pk, "run_id": world["run"].pk,
    }
    try:
        return "/" + template.format(**{k: v for k, v in values.items() if v is not None})
    except KeyError:
        return template  # an unknown placeholder: test_every_object_kwarg_is_filled names it


def _fingerprint(world: dict[str, Any]) -> dict[str, Any]:
    """Everything a write by bob could change about alice's objects."""
    from ovdiff_web.core.models import Dataset, Run, SupportImage, Vocabulary, VocabularyClass

    vocab = Vocabulary.objects.filter(pk=world["vocab"].pk).values().first()
    classes = list(VocabularyClass.objects.filter(vocabulary_id=world["vocab"].pk).values().order_by("pk"))
    run = Run.objects.filter(pk=world["run"].pk).values("status", "cancel_requested", "visibility").first()
    dataset = Dataset.objects.filter(pk=world["dataset"].pk).values("status", "visibility", "name").first()
    shares = [list(o.shared_users.values_list("pk", flat=True)) for o in
              (world["vocab"], world["dataset"], world["run"])]
    from ovdiff_web.integrations.models import LabelStudioConnection

    connection = LabelStudioConnection.objects.filter(pk=world["connection"].pk).values().first()
    return {"vocab": vocab, "classes": classes, "run": run, "dataset": dataset, "shares": shares,
            "images": SupportImage.objects.count(), "files": Path(world["dataset"].root).is_dir(),
            "connection": connection}


def _clients(user: Any) -> tuple[Client, APIClient]:
    ui = Client()
    ui.force_login(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return ui, api


def _refused(response: Any) -> bool:
    code = response.status_code
    if code in (301, 302):
        return "/login/" in response["Location"]
    return code in (400, 401, 403, 404, 405)  # 401: Label Studio's protocol routes take only their Basic auth


def test_every_object_kwarg_is_filled(alice_world: dict[str, Any]) -> None:
    assert len(OBJECT_TEMPLATES) > 80
    for template in OBJECT_TEMPLATES:
        assert "{" not in _fill(template, alice_world), template


@pytest.mark.parametrize("visibility", ["private", "public"])
@pytest.mark.slow  # seconds (subprocesses, every route or file kind): make test, not test-fast
def test_second_user_cannot_write_anything_of_alice(alice_world: dict[str, Any], other_user: Any,
                                                    visibility: str) -> None:
    from ovdiff_web.accounts import access

    for key in ("vocab", "dataset", "run"):
        access.share(alice_world[key], visibility=visibility)
    before = _fingerprint(alice_world)
    ui, api = _clients(other_user)
    payload = {"name": "bob-was-here", "is_stuff": True, "prompt": "x", "version": 1, "class_names": "dog",
               "visibility": "public", "users": ["bob"], "names": "dog", "expected_version": 1}
    for template in OBJECT_TEMPLATES:
        url = _fill(template, alice_world)
        client = api if url.startswith("/api/") else ui
        for method in WRITE_METHODS:
            response = getattr(client, method)(url, data=payload, format="json") if client is api else \
                getattr(client, method)(url, data=payload, content_type="application/json") \
                if method != "post" else client.post(url, data=payload)
            allowed = visibility == "public" and template in READ_INTO
            assert allowed or _refused(response), (visibility, method, url, response.status_code)
            assert _fingerprint(alice_world) == before, (visibility, method, url)


def test_private_objects_are_invisible_to_a_second_user(alice_world: dict[str, Any], other_user: Any) -> None:
    ui, api = _clients(other_user)
    for template in OBJECT_TEMPLATES:
        url = _fill(template, alice_world)
        if url.startswith("/admin/"):
            continue
        response = (api if url.startswith("/api/") else ui).get(url)
        protocol = url.startswith("/integrations/label-studio/")  # Label Studio's routes: only their Basic auth
        assert response.status_code in ((401,) if protocol else (404, 405)), (url, response.status_code)
    for listing in ("/api/vocabularies/", "/api/datasets/", "/api/runs/", "/api/classes/", "/api/support-sets/",
                    "/api/banks/"):
        assert api.get(listing).json()["count"] == 0, listing
    for page in ("/runs/", "/vocabularies/", "/datasets/", "/workers/", f"/compare/?runs={alice_world['run'].pk}"):
        html = ui.get(page).content.decode()
        assert "alice-v" not in html and f"/runs/{alice_world['run'].pk}/" not in html, page


def test_references_to_others_objects_are_refused(alice_world: dict[str, Any], other_user: Any) -> None:
    """bob cannot start a run on alice's private dataset, add a class to her vocabulary, or import into it."""
    from ovdiff_web.accounts import access
    from ovdiff_web.core.models import Run

    ui, api = _clients(other_user)
    response = api.post("/api/runs/", {"dataset": alice_world["dataset"].pk}, format="json")
    assert response.status_code == 400 and "dataset" in response.json()
    response = api.post("/api/classes/", {"vocabulary": alice_world["vocab"].pk, "name": "dog"}, format="json")
    assert response.status_code == 400 and "vocabulary" in response.json()
    access.share(alice_world["vocab"], visibility="public")
    response = api.post("/api/classes/", {"vocabulary": alice_world["vocab"].pk, "name": "dog"}, format="json")
    assert response.status_code == 403
    assert Run.objects.count() == 1 and alice_world["vocab"].classes.count() == 1
    mine = api.post("/api/vocabularies/", {"name": "bob-v"}, format="json").json()["id"]
    response = ui.post(f"/datasets/{alice_world['dataset'].pk}/import/", {"vocabulary": mine})
    assert response.status_code == 404  # alice's dataset is private


def test_public_is_readable_shared_is_editable_owner_shares(alice_world: dict[str, Any], user: Any,
                                                             other_user: Any, django_user_model: Any) -> None:
    from django.contrib.auth.models import Group

    ui, api = _clients(other_user)
    owner_ui, owner_api = _clients(user)
    vocab, run = alice_world["vocab"], alice_world["run"]
    # only the owner may share; bob cannot share it to himself
    assert api.post(f"/api/vocabularies/{vocab.pk}/share/", {"visibility": "public"}, format="json").status_code == 404
    response = owner_api.post(f"/api/vocabularies/{vocab.pk}/share/", {"visibility": "public"}, format="json")
    assert response.status_code == 200 and response.json()["visibility"] == "public"
    assert api.get(f"/api/vocabularies/{vocab.pk}/").status_code == 200
    assert ui.get(f"/vocabularies/{vocab.pk}/").status_code == 200
    assert api.patch(f"/api/vocabularies/{vocab.pk}/", {"description": "x"}, format="json").status_code == 403
    assert api.post(f"/api/vocabularies/{vocab.pk}/share/", {"users": ["bob"]}, format="json").status_code == 403
    # shared through a group: bob may edit now, but still not re-share
    team = Group.objects.create(name="team")
    other_user.groups.add(team)
    response = owner_api.post(f"/api/vocabularies/{vocab.pk}/share/", {"visibility": "shared", "groups": ["team"]},
                              format="json")
    assert response.status_code == 200 and response.json()["groups"] == ["team"]
    assert api.patch(f"/api/vocabularies/{vocab.pk}/", {"description": "by bob"}, format="json").status_code == 200
    cls = alice_world["cls"]
    assert ui.post(f"/vocabularies/{vocab.pk}/classes/{cls.pk}/label/",
                   {"is_stuff": "1", "version": cls.version}).status_code == 302
    assert api.post(f"/api/vocabularies/{vocab.pk}/share/", {"visibility": "public"}, format="json").status_code == 403
    # a run shared with bob by name: he may cancel it
    owner_api.post(f"/api/runs/{run.pk}/share/", {"visibility": "shared", "users": ["bob"]}, format="json")
    assert api.get(f"/api/runs/{run.pk}/").json()["shared_with"] == ["bob"]
    # staff may do everything
    staff = django_user_model.objects.create_user("root", password="pw-root-123", is_staff=True)
    _, staff_api = _clients(staff)
    assert staff_api.delete(f"/api/datasets/{alice_world['dataset'].pk}/").status_code == 204


def test_media_files_follow_their_object(alice_world: dict[str, Any], user: Any, other_user: Any) -> None:
    from ovdiff_web.accounts import access

    rel = alice_world["result"].prediction
    owner_ui, _ = _clients(user)
    ui, _ = _clients(other_user)
    assert owner_ui.get(f"/files/{rel}").status_code == 200
    assert ui.get(f"/files/{rel}").status_code == 404
    access.share(alice_world["run"], visibility="public")
    assert ui.get(f"/files/{rel}").status_code == 200
