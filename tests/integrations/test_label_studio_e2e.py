"""ovdiff as the ML backend of a real Label Studio (``label-studio start`` from PyPI, its own venv): a project with
a brush config made through Label Studio's API, two images imported, ovdiff (a live Django server + a real Celery
worker on the local Redis) connected with ``POST /api/ml`` (Basic auth = the connection token), predictions
retrieved with the data-manager action ``retrieve_tasks_predictions``; every brush region decodes (label-studio-
converter's ``decode_rle`` here, the Label Studio venv's own ``label_studio_sdk`` in a subprocess) to the job's
label PNG pixel for pixel, and Label Studio's own labelling page (Debian's chromium, signed in through its login
form) lists the prediction's regions and model version (its screenshot is the README's). Then an annotation submitted in Label Studio arrives through its webhook as ground truth
in the connection's dataset and, for a class asked for, as a support image with its mask; a replay is refused.

Label Studio starts on a copy of a migrated data directory (built once per version, at install or on first use:
that first build migrates, minutes on a busy 2-core machine; a start on a copy takes a few CPU-seconds)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import base64
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from PIL import Image
from rest_framework.test import APIClient

from tests.integrations.label_studio import ROOT, LabelStudio, start_label_studio
from tests.service.test_e2e import FAST_SETTINGS, worker  # noqa: F401  (the real worker fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]
CHROMIUM = "/usr/bin/chromium"  # Debian's, as tests/browser use it
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

CONFIG = """<View>
  <Image name="image" value="$image" zoom="true"/>
  <BrushLabels name="tag" toName="image">
    <Label value="brick" background="#ff0000"/>
    <Label value="grass" background="#00ff00"/>
  </BrushLabels>
</View>"""


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    """One Label Studio for the tests of this module (its start is the slow part); each test makes its own project."""
    yield from start_label_studio(tmp_path_factory.mktemp("label-studio"))


def _png_bytes(seed: int, size: tuple[int, int] = (40, 32)) -> bytes:
    import io

    """A small synthetic scene (a brick wall above grass, with noise), so the screenshot reads as one."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    horizon = h // 2 + seed % 5
    course = y // 5
    mortar = (y % 5 == 0) | (((x + 5 * (course % 2) + seed) % 10) == 0)
    picture = np.where(mortar[..., None], [205, 200, 190], [165, 70, 45]).astype(float)
    picture[y >= horizon] = [70, 145, 55]
    picture += rng.normal(0, 18, picture.shape)
    buf = io.BytesIO()
    Image.fromarray(picture.clip(0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"ovdiff:{token}".encode()).decode()


def _sdk_decode(ls: LabelStudio, rles: list[list[int]]) -> list[list[int]]:
    """Decode with Label Studio's own SDK (its venv): each RLE -> the alpha channel's non-zero pixel indices."""
    code = ("import json,sys,numpy as np\nfrom label_studio_sdk.converter.brush import decode_rle\n"
            "out=[np.flatnonzero(np.asarray(decode_rle(r)).reshape(-1,4)[:,3]).tolist()\n"
            "     for r in json.load(sys.stdin)]\n"
            "json.dump(out,sys.stdout)")
    done = subprocess.run([str(ls.python), "-c", code], input=json.dumps(rles), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _retrieve_predictions(ls: LabelStudio, project: int, log: Path, timeout: float = 900.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ls.ok("POST", f"/api/dm/actions?id=retrieve_tasks_predictions&project={project}",
              json={"selectedItems": {"all": True, "excluded": []}}, timeout=200)
        predictions = ls.ok("GET", f"/api/predictions/?project={project}")
        if len(predictions) >= 2:
            return predictions
        time.sleep(2)  # ovdiff answered 503 (job still running): Label Studio stored nothing, ask again
    pytest.fail(f"no predictions after {timeout} s\nLS:\n{ls.log.read_text()[-3000:]}\nworker:\n"
                f"{log.read_text()[-3000:]}")


def test_label_studio_round_trip(worker: Any, label_studio: LabelStudio, live_server: Any,  # noqa: F811
                                 api: APIClient, settings: Any, tmp_path: Path) -> None:
    from label_studio_converter.brush import decode_rle, mask2rle

    from ovdiff_web.core.models import ImageResult, SupportCuration
    from ovdiff_web.integrations.models import LabelStudioAnnotation, LabelStudioConnection, LabelStudioTask

    ls, log = label_studio, tmp_path / "worker.log"
    created = api.post("/api/integrations/label-studio/", {
        "name": "bricks", "label_studio_url": ls.url, "access_token": ls.token, "profile": "tiny",
        "settings": FAST_SETTINGS, "support_classes": ["brick"]}, format="json")
    assert created.status_code == 201, created.content
    token, conn_id = created.json()["token"], created.json()["id"]
    ml_url = f"{live_server.url}/integrations/label-studio/{conn_id}/"
    assert created.json()["ml_backend_url"].endswith(f"/integrations/label-studio/{conn_id}/")
    import requests

    assert requests.get(ml_url + "health", timeout=30).status_code == 401  # nothing open
    health = requests.get(ml_url + "health", headers={"Authorization": _basic(token)}, timeout=30)
    assert health.json()["status"] == "UP"

    project = ls.ok("POST", "/api/projects/", json={"title": "ovdiff e2e", "label_config": CONFIG})["id"]
    for seed in (0, 1):
        ls.ok("POST", f"/api/projects/{project}/import", files={"file": (f"img{seed}.png", _png_bytes(seed))})
    tasks = ls.ok("GET", f"/api/tasks/?project={project}")["tasks"]
    assert len(tasks) == 2
    backend = ls.ok("POST", "/api/ml", json={"url": ml_url, "project": project, "title": "ovdiff",
                                             "auth_method": "BASIC_AUTH", "basic_auth_user": "ovdiff",
                                             "basic_auth_pass": token})
    connection = LabelStudioConnection.objects.get(pk=conn_id)
    assert sorted(connection.vocabulary.classes.values_list("name", flat=True)) == ["brick", "grass"]
    assert connection.warmed_version.startswith("ovdiff-tiny-v")  # setup queued the class builds
    assert backend["state"] in ("CO", "CONNECTED"), backend
    # Label Studio made a webhook for the backend without credentials; ovdiff signs it on the next /setup
    # (Label Studio calls /setup again once the backend is saved, and before every prediction request).
    hooks = [h for h in ls.ok("GET", f"/api/webhooks/?project={project}") if h["url"].endswith("/webhook")]
    assert len(hooks) == 1

    predictions = _retrieve_predictions(ls, project, log)
    assert ls.ok("GET", f"/api/webhooks/{hooks[0]['id']}/")["headers"] == {"Authorization": _basic(token)}
    assert {p["task"] for p in predictions} == {t["id"] for t in tasks}
    rles, expected = [], []
    for prediction in predictions:
        row = LabelStudioTask.objects.get(connection_id=conn_id, task_id=prediction["task"])
        assert prediction["model_version"] == row.model_version and row.model_version.startswith("ovdiff-tiny-v")
        result = ImageResult.objects.get(run=row.run, image_id=row.image_id)
        label_png = np.asarray(Image.open(Path(settings.MEDIA_ROOT) / result.prediction))
        names = row.run.class_names
        covered = np.zeros(label_png.shape, dtype=bool)
        assert prediction["result"], "no region at all"
        for region in prediction["result"]:
            assert region["type"] == "brushlabels" and region["value"]["format"] == "rle"
            assert (region["original_width"], region["original_height"]) == (40, 32)
            assert 0.0 <= region["score"] <= 1.0
            label = region["value"]["brushlabels"][0]
            mask = np.asarray(decode_rle(region["value"]["rle"])).reshape(32, 40, 4)[:, :, 3] > 0
            assert np.array_equal(mask, label_png == names.index(label)), label  # pixel for pixel
            covered |= mask
            rles.append(region["value"]["rle"])
            expected.append(np.flatnonzero(label_png == names.index(label)).tolist())
        assert np.array_equal(covered, label_png != 0)  # every non-background pixel, nothing else
    assert _sdk_decode(ls, rles) == expected  # Label Studio's own decoder agrees
    screenshot_error = None
    if Path(CHROMIUM).exists():  # Label Studio's own UI shows the pre-annotations (README's screenshot)
        started = time.monotonic()
        try:
            shown = next(p for p in predictions if p["task"] == tasks[0]["id"])
            out = Path(os.environ.get("OVDIFF_LS_SCREENSHOT", ROOT / "test-artifacts" / "screenshots"
                                      / "label-studio-preannotations.png"))
            # in a thread of its own: a browser test earlier in this process leaves Playwright's event loop running
            # in the main thread, where its sync API refuses to start
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(_screenshot, ls, project, tasks[0]["id"], shown, out).result()
        except Exception as exc:  # noqa: BLE001  (reported at the end: the round trip is checked first)
            screenshot_error = repr(exc)
        print(f"Label Studio's labelling page checked in {time.monotonic() - started:.1f} s")

    # An annotator corrects task 1: brick is the left half, grass the rest; Label Studio calls /webhook itself.
    task = tasks[0]
    brick = np.zeros((32, 40), dtype=np.uint8)
    brick[:, :20] = 255
    result = [{"from_name": "tag", "to_name": "image", "type": "brushlabels", "original_width": 40,
               "original_height": 32, "value": {"format": "rle", "rle": [int(v) for v in mask2rle(m)],
                                                "brushlabels": [name]}}
              for name, m in (("brick", brick), ("grass", 255 - brick))]
    ls.ok("POST", f"/api/tasks/{task['id']}/annotations/", json={"result": result, "task": task["id"]})
    deadline = time.monotonic() + 60
    while not LabelStudioAnnotation.objects.filter(connection_id=conn_id).exists():
        assert time.monotonic() < deadline, f"no webhook arrived:\n{ls.log.read_text()[-3000:]}"
        time.sleep(0.5)
    received = LabelStudioAnnotation.objects.get(connection_id=conn_id)
    assert received.task_id == task["id"] and received.classes == ["brick", "grass"]
    assert received.support_added == ["brick"] and received.completed_by
    connection.refresh_from_db()
    dataset = connection.dataset
    assert dataset.image_ids == [f"task-{task['id']}"] and dataset.class_names == ["background", "brick", "grass"]
    gt = np.asarray(Image.open(Path(dataset.root) / "masks" / f"task-{task['id']}.png"))
    assert np.array_equal(gt, np.where(brick > 0, 1, 2))
    image = np.asarray(Image.open(Path(dataset.root) / "images" / f"task-{task['id']}.png"))
    assert np.array_equal(image, np.asarray(Image.open(__import__("io").BytesIO(_png_bytes(0))).convert("RGB")))
    version = SupportCuration.objects.get(vocab_class__vocabulary=connection.vocabulary, vocab_class__name="brick")
    folder = Path(settings.MEDIA_ROOT) / version.extra_dirs[0]
    support_mask = np.asarray(Image.open(folder / "masks" / "000.png"))
    assert support_mask.shape == (32, 22) and (support_mask[:, :20] == 255).all() and (support_mask[:, 20:] == 0).all()
    assert version.created_by.username == "alice"

    # A replay of the same annotation (same updated_at) changes nothing; without the token: 401.
    annotation = ls.ok("GET", f"/api/annotations/{received.annotation_id}/")
    payload = {"action": "ANNOTATION_CREATED", "annotation": annotation, "task": {"id": task["id"]},
               "project": {"id": project}}
    replay = requests.post(ml_url + "webhook", json=payload, headers={"Authorization": _basic(token)}, timeout=30)
    assert replay.status_code == 409, replay.text
    assert requests.post(ml_url + "webhook", json=payload, timeout=30).status_code == 401
    assert LabelStudioAnnotation.objects.filter(connection_id=conn_id).count() == 1
    assert SupportCuration.objects.filter(vocab_class__vocabulary=connection.vocabulary).count() == 1
    _bad_payloads_change_nothing(ml_url, token, annotation, task, tasks[1], Path(dataset.root))

    # An explicit import of Label Studio's JSON export (webhook off): task 2, grass asked for as support.
    ls.ok("PATCH", f"/api/webhooks/{hooks[0]['id']}/", json={"is_active": False})
    second = tasks[1]
    ls.ok("POST", f"/api/tasks/{second['id']}/annotations/", json={"task": second["id"], "result": [
        {**result[1], "value": {**result[1]["value"], "brushlabels": ["grass"]}}]})
    export = ls.ok("GET", f"/api/projects/{project}/export?exportType=JSON")
    assert LabelStudioAnnotation.objects.filter(connection_id=conn_id).count() == 1  # no webhook this time
    refused = api.post(f"/api/integrations/label-studio/{conn_id}/import/", {"export": export,
                                                                             "to_support": ["sky"]}, format="json")
    assert refused.status_code == 400 and "sky" in refused.json()["detail"]
    replayed = api.post(f"/api/integrations/label-studio/{conn_id}/import/", {"export": export,
                                                                              "to_support": ["grass"]}, format="json")
    assert replayed.status_code == 409  # the export still holds task 1's annotation, received already
    only_new = [t for t in export if t["id"] == second["id"]]
    imported = api.post(f"/api/integrations/label-studio/{conn_id}/import/", {"export": only_new,
                                                                              "to_support": ["grass"]}, format="json")
    assert imported.status_code == 201, imported.content
    assert [r["support_added"] for r in imported.json()["imported"]] == [["grass"]]
    connection.refresh_from_db()
    assert connection.dataset.image_ids == [f"task-{task['id']}", f"task-{second['id']}"]
    gt2 = np.asarray(Image.open(Path(dataset.root) / "masks" / f"task-{second['id']}.png"))
    assert np.array_equal(gt2, np.where(brick > 0, 0, 2))  # unlabelled pixels are background
    grass = SupportCuration.objects.get(vocab_class__vocabulary=connection.vocabulary, vocab_class__name="grass")
    assert grass.created_by.username == "alice" and len(grass.extra_dirs) == 1
    assert screenshot_error is None, screenshot_error


def _bad_payloads_change_nothing(ml_url: str, token: str, annotation: dict[str, Any], task: dict[str, Any],
                                 other_task: dict[str, Any], dataset_root: Path) -> None:
    import requests

    from ovdiff_web.core.models import SupportCuration
    from ovdiff_web.integrations.models import LabelStudioAnnotation

    def files() -> dict[str, bytes]:
        return {p.relative_to(dataset_root).as_posix(): p.read_bytes() for p in dataset_root.rglob("*") if p.is_file()}

    before = (files(), LabelStudioAnnotation.objects.count(), SupportCuration.objects.count())
    fresh = {**annotation, "id": annotation["id"] + 1000, "updated_at": "2026-01-01T00:00:00Z"}
    region = fresh["result"][0]
    cases = {
        "unknown task": (404, {**fresh}, 987654),
        "wrong size": (400, {**fresh, "result": [{**region, "original_width": 41}]}, other_task["id"]),
        "short mask": (400, {**fresh, "result": [{**region, "original_width": 40, "value": {
            **region["value"], "rle": region["value"]["rle"][:40]}}]}, other_task["id"]),
        "not in vocabulary": (400, {**fresh, "result": [{**region, "value": {**region["value"],
                                                                               "brushlabels": ["sky"]}}]},
                              other_task["id"]),
        "no revision": (400, {**fresh, "updated_at": None, "created_at": None}, other_task["id"]),
    }
    for name, (code, body, task_id) in cases.items():
        payload = {"action": "ANNOTATION_UPDATED", "annotation": body, "task": {"id": task_id}}
        response = requests.post(ml_url + "webhook", json=payload, headers={"Authorization": _basic(token)},
                                 timeout=60)
        assert response.status_code == code, (name, response.text)
        assert response.json()["error"], name
    assert (files(), LabelStudioAnnotation.objects.count(), SupportCuration.objects.count()) == before


def _screenshot(ls: LabelStudio, project: int, task_id: int, prediction: dict[str, Any], out: Path) -> None:
    """Label Studio's labelling page of one task with ovdiff's prediction as pre-annotation (Debian chromium,
    signed in through Label Studio's own login form): the page must list the prediction's regions with their
    labels and scores, and the prediction's tab its model version, before the screenshot is saved."""
    from playwright.sync_api import sync_playwright

    from tests.integrations.label_studio import PASSWORD, USER

    version = prediction["model_version"]
    ls.ok("PATCH", f"/api/projects/{project}/", json={"show_collab_predictions": True, "model_version": version})
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(90_000)
            page.goto(f"{ls.url}/user/login/")
            page.fill("input[name=email]", USER)
            page.fill("input[name=password]", PASSWORD)
            page.click("button:has-text('Log in')")
            page.wait_for_url(lambda url: "/user/login" not in url)
            page.goto(f"{ls.url}/projects/{project}/data?task={task_id}")
            page.wait_for_selector("canvas")
            regions = page.locator(".lsf-tree__node_type_brushregion")
            regions.nth(len(prediction["result"]) - 1).wait_for()
            page.wait_for_timeout(3000)  # the brush masks are drawn after the regions are listed
            listed = [" ".join(text.split()) for text in regions.all_inner_texts()]
            expected = [f"{r['value']['brushlabels'][0]} {r['score']:.2f}" for r in prediction["result"]]
            assert sorted(t.split(" ", 1)[1] if t[:1].isdigit() else t for t in listed) == sorted(expected), listed
            tabs = " ".join(page.locator(".lsf-annotation-button").all_inner_texts())
            assert version[:8] in tabs and version[-6:] in tabs, tabs  # the tab shows it shortened
            page.screenshot(path=str(out))
        finally:
            browser.close()


@pytest.mark.django_db
def test_personal_access_token(label_studio: LabelStudio, api: APIClient) -> None:
    """A connection given a personal access token (Label Studio's JWT refresh token, made here with
    ``POST /api/token/``) fetches a task's image with it: ovdiff exchanges it at ``/api/token/refresh/`` for an
    access token sent as ``Bearer``, keeps that until it expires, and exchanges again on a 401; a revoked token
    is refused with a message that says so."""
    from ovdiff_web.integrations import ls_client
    from ovdiff_web.integrations.models import LabelStudioConnection

    ls = label_studio
    ls.ok("POST", "/api/jwt/settings", json={"api_tokens_enabled": True, "legacy_api_tokens_enabled": True})
    tokens = ls.ok("GET", "/api/token/")
    for listed in tokens:  # one personal access token per user: revoke any an earlier run left
        ls.ok("POST", "/api/token/blacklist/", json={"refresh": listed["token"]})
    pat = ls.ok("POST", "/api/token/")["token"]
    assert ls_client.is_personal_access_token(pat) and not ls_client.is_personal_access_token(ls.token)
    project = ls.ok("POST", "/api/projects/", json={"title": "ovdiff PAT", "label_config": CONFIG})["id"]
    ls.ok("POST", f"/api/projects/{project}/import", files={"file": ("pat.png", _png_bytes(7))})
    task = ls.ok("GET", f"/api/tasks/?project={project}")["tasks"][0]

    created = api.post("/api/integrations/label-studio/", {"name": "pat", "label_studio_url": ls.url,
                                                           "access_token": pat}, format="json")
    assert created.status_code == 201, created.content
    connection = LabelStudioConnection.objects.get(pk=created.json()["id"])
    assert ls_client.get_task(connection, task["id"])["id"] == task["id"]
    assert ls_client.fetch_image(connection, task["data"]["image"]) == _png_bytes(7)  # the bytes uploaded
    key = ls_client._cache_key(connection)
    access, expires = ls_client._access_tokens[key]
    assert expires > time.time() + 60 and access != pat
    ls_client.fetch_image(connection, task["data"]["image"])
    assert ls_client._access_tokens[key][0] == access  # kept, not exchanged again

    # An access token Label Studio no longer accepts (here: one signed by nobody): 401, exchanged, fetched.
    head, claims, _sig = access.split(".")
    ls_client._access_tokens[key] = (f"{head}.{claims}.{'A' * 43}", expires)
    assert ls_client.fetch_image(connection, task["data"]["image"]) == _png_bytes(7)
    assert ls_client._access_tokens[key][0] != f"{head}.{claims}.{'A' * 43}"
    # One about to expire is exchanged before use.
    ls_client._access_tokens[key] = ("stale", time.time() + 5)
    assert ls_client.get_task(connection, task["id"])["id"] == task["id"]
    assert ls_client._access_tokens[key][0] != "stale"

    # Revoked in Label Studio: the next exchange is refused, and the error says what to do.
    ls.ok("POST", "/api/token/blacklist/", json={"refresh": pat})
    ls_client._access_tokens.pop(key)
    with pytest.raises(ls_client.LabelStudioUnavailable, match="personal access token"):
        ls_client.fetch_image(connection, task["data"]["image"])
