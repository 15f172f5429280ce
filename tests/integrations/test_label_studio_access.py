"""Label Studio connections without a Label Studio: who may call what (the protocol routes answer 401 to anyone
without the connection's token, the management API 404 to a second user and 401 to anonymous callers), the
labelling-config parser and the polygon encoding. The protocol round trip itself is test_label_studio_e2e."""
from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ovdiff_web.integrations import ls_config, ls_predict

CONFIG = ('<View><Image name="img" value="$photo"/><BrushLabels name="tag" toName="img">'
          '<Label value="cat"/><Label value="sky"/></BrushLabels>'
          '<PolygonLabels name="poly" toName="img"><Label value="road"/></PolygonLabels></View>')


def _basic(token: str, user: str = "ovdiff") -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


@pytest.fixture
def connection(api: APIClient) -> dict[str, Any]:
    response = api.post("/api/integrations/label-studio/", {
        "name": "team", "label_studio_url": "http://127.0.0.1:9/", "access_token": "ls-secret"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def bob_api(other_user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")
    return client


@pytest.mark.django_db
def test_token_shown_once_and_secrets_never_returned(api: APIClient, connection: dict[str, Any]) -> None:
    from ovdiff_web.integrations.models import LabelStudioConnection, hash_token

    assert connection["token"].startswith("ovls_") and "access_token" not in connection
    row = LabelStudioConnection.objects.get(pk=connection["id"])
    assert row.token_hash == hash_token(connection["token"]) and connection["token"] not in row.token_hash
    shown = api.get(f"/api/integrations/label-studio/{connection['id']}/").json()
    assert "token" not in shown and "access_token" not in shown and "token_hash" not in shown
    assert shown["label_studio_url"] == "http://127.0.0.1:9" and shown["profile"] == "tiny"
    rotated = api.post(f"/api/integrations/label-studio/{connection['id']}/rotate-token/").json()["token"]
    client = Client()
    assert client.get(f"/integrations/label-studio/{connection['id']}/health",
                      HTTP_AUTHORIZATION=_basic(connection["token"])).status_code == 401  # the old one is gone
    assert client.get(f"/integrations/label-studio/{connection['id']}/health",
                      HTTP_AUTHORIZATION=_basic(rotated)).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("method,route", [("get", "health"), ("post", "setup"), ("post", "predict"),
                                          ("post", "webhook"), ("get", "metrics")])
def test_protocol_routes_need_the_connection_token(connection: dict[str, Any], bob_api: APIClient,
                                                   method: str, route: str) -> None:
    bobs = bob_api.post("/api/integrations/label-studio/", {
        "name": "bob's", "label_studio_url": "http://127.0.0.1:9", "access_token": "x"}, format="json").json()
    url = f"/integrations/label-studio/{connection['id']}/{route}"
    client = Client()
    call = getattr(client, method)
    for headers in ({}, {"HTTP_AUTHORIZATION": _basic("wrong")}, {"HTTP_AUTHORIZATION": _basic(bobs["token"])},
                    {"HTTP_AUTHORIZATION": f"Token {connection['token']}"}, {"HTTP_AUTHORIZATION": "Basic !!"}):
        body = {"data": "{}", "content_type": "application/json"} if method == "post" else {}
        response = call(url, **body, **headers)
        assert response.status_code == 401, (headers, response.content)
        assert response["WWW-Authenticate"].startswith("Basic")
    unknown = client.get("/integrations/label-studio/999999/health", HTTP_AUTHORIZATION=_basic(connection["token"]))
    assert unknown.status_code == 401  # an unknown connection answers like a wrong token


@pytest.mark.django_db
def test_management_api_is_the_owners(connection: dict[str, Any], bob_api: APIClient, anon: APIClient) -> None:
    base = f"/api/integrations/label-studio/{connection['id']}/"
    for client, code in ((bob_api, 404), (anon, 401)):
        assert client.get(base).status_code == code
        assert client.patch(base, {"name": "mine"}, format="json").status_code == code
        assert client.post(base + "rotate-token/").status_code == code
        assert client.post(base + "import/", {"export": [{"id": 1, "annotations": []}]},
                           format="json").status_code == code
        assert client.get(base + "annotations/").status_code == code
        assert client.delete(base).status_code == code
    assert bob_api.get("/api/integrations/label-studio/").json()["results"] == []
    assert anon.get("/api/integrations/label-studio/").status_code == 401


@pytest.mark.django_db
def test_fiftyone_export_is_scoped(api: APIClient, bob_api: APIClient, anon: APIClient, user: Any) -> None:
    from ovdiff_web.core.models import Run

    run = Run.objects.create(kind="segmentation", profile="tiny", created_by=user, status="queued")
    url = f"/api/integrations/fiftyone/runs/{run.pk}/"
    assert bob_api.get(url).status_code == 404
    assert anon.get(url).status_code == 401
    assert api.get(url).status_code == 409  # not finished yet: said so
    assert api.get("/api/integrations/fiftyone/runs/999999/").status_code == 404


@pytest.mark.django_db
def test_bad_protocol_bodies_are_4xx(connection: dict[str, Any]) -> None:
    client = Client()
    auth = {"HTTP_AUTHORIZATION": _basic(connection["token"])}
    base = f"/integrations/label-studio/{connection['id']}/"
    assert client.post(base + "setup", data="not json", content_type="application/json", **auth).status_code == 400
    assert client.post(base + "setup", data="[]", content_type="application/json", **auth).status_code == 400
    assert client.post(base + "setup", data={"schema": 3}, content_type="application/json", **auth).status_code == 400
    refused = client.post(base + "setup", data={"schema": "<View><Image name='i' value='$i'/></View>"},
                          content_type="application/json", **auth)
    assert refused.status_code == 400 and "BrushLabels" in refused.json()["error"]
    no_config = client.post(base + "predict", data={"tasks": [{"id": 1, "data": {"image": "/x.png"}}]},
                            content_type="application/json", **auth)
    assert no_config.status_code == 400 and "labelling config" in no_config.json()["error"]
    assert client.post(base + "predict", data={"tasks": []}, content_type="application/json",
                       **auth).status_code == 400
    other = client.post(base + "webhook", data={"action": "PROJECT_UPDATED"}, content_type="application/json", **auth)
    assert other.status_code == 200 and other.json() == {"status": "Unknown event"}
    early = client.post(base + "webhook", data={"action": "ANNOTATION_CREATED", "annotation": {"id": 1,
                        "updated_at": "t", "result": []}, "task": {"id": 1}}, content_type="application/json", **auth)
    assert early.status_code == 409 and "connect it in Label Studio" in early.json()["error"]
    assert client.get(base + "setup", **auth).status_code == 405


def test_config_parser() -> None:
    config = ls_config.parse(CONFIG)
    assert config.labels == ["cat", "sky", "road"]
    assert [(c.from_name, c.to_name, c.type) for c in config.controls] == [
        ("tag", "img", "brushlabels"), ("poly", "img", "polygonlabels")]
    assert config.image_key(config.controls[0]) == "photo"
    for bad, words in (("", "empty"), ("<View>", "not valid XML"),
                       ("<View><Image name='i' value='$i'/><Choices name='c' toName='i'/></View>", "nothing"),
                       ("<View><BrushLabels name='b' toName='nope'><Label value='a'/></BrushLabels></View>", "toName"),
                       ("<View><Image name='i' value='$i'/><BrushLabels name='b' toName='i'/></View>", "no <Label"),
                       ("<View><Image name='i' value='$i'/><BrushLabels name='b' toName='i'>"
                        "<Label value='Background'/></BrushLabels></View>", "background"),
                       ('<!DOCTYPE x [<!ENTITY a "aaaa">]><View>&a;</View>', "not valid XML")):
        with pytest.raises(ls_config.ConfigRefused, match=words):
            ls_config.parse(bad)


def test_polygon_region_covers_the_mask() -> None:
    from skimage.draw import polygon

    mask = np.zeros((50, 80), dtype=bool)
    mask[10:30, 20:60] = True
    control = ls_config.Control("poly", "img", "polygonlabels", ("road",))
    value = ls_predict.region_value(control, "road", mask)
    assert value["polygonlabels"] == ["road"] and value["closed"] is True
    xs = [p[0] * 80 / 100 for p in value["points"]]
    ys = [p[1] * 50 / 100 for p in value["points"]]
    drawn = np.zeros_like(mask)
    rr, cc = polygon(ys, xs, shape=mask.shape)
    drawn[rr, cc] = True
    assert (drawn & mask).sum() / (drawn | mask).sum() > 0.9


def test_brush_region_round_trips() -> None:
    from label_studio_converter.brush import decode_rle

    rng = np.random.default_rng(0)
    mask = rng.random((17, 23)) > 0.5
    value = ls_predict.region_value(ls_config.Control("tag", "img", "brushlabels", ("cat",)), "cat", mask)
    assert value["format"] == "rle" and value["brushlabels"] == ["cat"]
    assert np.array_equal(np.asarray(decode_rle(value["rle"])).reshape(17, 23, 4)[:, :, 3] > 0, mask)
