"""Regenerate docs/screenshots/: every dashboard page at 1400x900 in Debian's chromium, so a reader sees the
product without running it.  ``.venv/bin/python scripts/screenshots.py``

Isolated and offline: a temporary database and data dir, the dashboard served by ``manage.py runserver`` on a
free loopback port, no worker (runs are stored as the worker stores them: ``tests/ui/factories.py``; the
prediction job and the support sets are computed in this process by the tiny engine, as the tests do), Redis only
for the Workers page and the job's queue message (deleted with the script's other keys). The data is synthetic and the runs come from the random-weight ``tiny`` profile; the pages
say so, and so does docs/SCREENSHOTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1400, "height": 900}
USER, PASSWORD = "alice", "screenshots-pw-1"

# (file name, caption); the page for each comes from the seeded ids below
PAGES = [
    ("login", "Sign in"),
    ("runs", "Runs: queue an evaluation (settings picker), live progress, names and notes"),
    ("run-detail", "A run: live status and elapsed time, re-run / clone / delete, per-class IoU, results"),
    ("run-confusion", "Its confusion matrix with the \"no dataset label\" column, readout and highlight"),
    ("run-gallery", "Its gallery: prediction, ground truth and per-class overlays"),
    ("run-viewer", "The zoomable viewer with prediction / ground-truth / error layers"),
    ("run-150-classes", "A 150-class run: the matrix as a canvas with keyboard navigation"),
    ("confusion-cell", "A confusion cell: its images with the confused pixels highlighted"),
    ("compare", "Compare runs"),
    ("run-clone", "Clone a run and edit its settings"),
    ("run-delete", "Delete a run after a confirmation that says what goes"),
    ("vocabularies", "Vocabularies"),
    ("vocabulary", "A vocabulary: the prompt inside the generator's template, thing/stuff review"),
    ("class", "A class: uploaded and generated support sets, the one in use marked"),
    ("class-review", "A class's support-set review: attribution, proposed instance masks, chosen fg/bg, exclude / "
                     "choose-mask controls and the versions list"),
    ("vocabulary-review", "A vocabulary's review page: every class's support images, flagged ones first"),
    ("compare-curated", "Compare a run before and after a curation: support versions and per-class change"),
    ("datasets", "Datasets: upload a zip or register a server folder"),
    ("dataset", "A dataset: images with ground truth, classes, ingest errors"),
    ("dataset-delete-refused", "Deleting a dataset that runs read is refused, listing them"),
    ("segment", "Segment: prediction jobs, with the form that queues one (uploads or a zip, classes or a vocabulary)"),
    ("prediction-job", "A prediction job: progress, its gallery of segmented images and the downloads"),
    ("prediction-image", "An image of a job: overlay with opacity, class legend, and a clicked pixel explained"),
    ("workers", "Workers: queues, busy workers, running and failed tasks, the last answer's age"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed() -> dict[str, int | str]:
    """(In a subprocess with the temporary environment.) Users, a dataset, runs, a vocabulary, a class with an
    uploaded support set, a curated class with runs before and after, a finished prediction job; returns the ids
    the pages need."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ovdiff_web.core.models import Dataset, Run, Vocabulary
    from ovdiff_web.datasets.preview import image_and_labels
    from ovdiff_web.runs.lifecycle import set_run_label
    from ovdiff_web.support.images import save_user_support_images
    from ovdiff_web.vocabularies.services import add_classes
    from tests.ui.factories import make_demo_dataset, make_finished_run, make_vocabulary_run

    media = Path(settings.MEDIA_ROOT)
    media.mkdir(parents=True, exist_ok=True)
    user = get_user_model().objects.create_user(USER, password=PASSWORD)
    dataset = make_demo_dataset(Path(settings.OVDIFF_DATA_DIR) / "demo", n_images=8, size=160)
    Dataset.objects.filter(pk=dataset.pk).update(created_by=user)
    plain = make_finished_run(dataset, user, media)
    run = make_vocabulary_run(dataset, user, media)
    big = make_vocabulary_run(dataset, user, media, n_classes=150)
    set_run_label(run, name="street vocabulary, paper settings", notes="Two classes the dataset lacks: zebra, lava.")
    set_run_label(big, name="150-class stress test",
                  notes="Its confusion matrix is synthetic (made by scripts/screenshots.py) to show a full 150-class "
                        "matrix; the 8 demo images only hold 4 classes.")
    Run.objects.filter(pk=big.pk).update(confusion=_synthetic_confusion(len(big.class_names)))
    Run.objects.filter(pk=plain.pk).update(name="dataset classes")
    vocab = Vocabulary.objects.create(name="street", owner=user, description="what the team segments every week")
    add_classes(vocab, ["bus", "road", "sky", "person", "grass"], initial=True)
    bus = vocab.classes.get(name="bus")
    bus.prompt = "red double-decker bus"
    bus.save()
    image, _ = image_and_labels(dataset, dataset.image_ids[0])
    files = [SimpleUploadedFile(f"own{i}.png", _png(image[:, ::(1 if i % 2 else -1)]), "image/png") for i in range(3)]
    save_user_support_images(bus, files)
    job = _prediction_job(user, dataset)
    person, before, after = _curated_class(vocab, dataset, user)
    return {"run": run.pk, "big": big.pk, "plain": plain.pk, "dataset": dataset.pk, "vocab": vocab.pk,
            "cls": bus.pk, "n": len(run.class_names), "job": job.pk, "job_image": job.image_ids[0],
            "curated": person.pk, "before": before.pk, "after": after.pk}


def _prediction_job(user: Any, dataset: Any) -> Any:
    """A finished tiny-profile prediction job on three demo images, queued through the service the Segment page
    calls and run in this process in the worker's task order (as tests/ui/test_predictions_page.py does)."""
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ovdiff_web.datasets.preview import image_and_labels
    from ovdiff_web.runs.lifecycle import set_run_label
    from ovdiff_web.predictions.services import create_prediction
    from tests.service.test_predictions import FAST, run_inline

    files = [SimpleUploadedFile(f"{name}.png", _png(image_and_labels(dataset, name)[0]), "image/png")
             for name in dataset.image_ids[:3]]
    job = create_prediction(user=user, files=files, classes="brick, grass, gravel, sky", stuff="grass, gravel, sky",
                            profile="tiny", overrides=FAST)
    job = run_inline(job.pk)
    assert job.status == "succeeded", job.error
    _drop_own_keys(settings.OVDIFF_QUEUE_PREFIX)  # the start_run queued for a worker: its work was done here
    set_run_label(job, name="yard photos", notes="")
    return job


def _curated_class(vocab: Any, dataset: Any, user: Any) -> tuple[Any, Any, Any]:
    """The vocabulary's support sets built by the tiny engine and recorded (as the curation tests' ``built``
    fixture does), one class curated twice (an image excluded, a proposed mask chosen), and two runs of the
    vocabulary made before and after that curation, for the compare page."""
    from ovdiff_web.core.models import Run
    from ovdiff_web.support import curation
    from ovdiff_web.common import engine_bridge
    from ovdiff_web.support.artifacts import record_artifacts

    ovd = engine_bridge.ovdiff("tiny")
    for cls in vocab.classes.exclude(name="bus"):
        spec = cls.to_spec()
        record_artifacts("tiny", ovd.support_set(spec), ovd.banks(spec), spec=spec, class_id=cls.pk)
    person = vocab.classes.get(name="person")
    snapshot_before = [c.snapshot() for c in vocab.classes.all()]
    images = list(curation.review_set(person).images.all())
    curation.exclude(person, images[0].content_id, "two people, one is cut off", user=user)
    masked = next((im for im in images[1:] if im.instances), None)
    if masked is not None:
        curation.choose_mask(person, masked.content_id, "instance:0", user=user)
    snapshot_after = [c.snapshot() for c in vocab.classes.all()]
    names = ["background", *(c.name for c in vocab.classes.all())]

    def run(snapshot: list[dict[str, Any]], person_iou: float, label: str) -> Run:
        iou = {n: 0.3 + 0.05 * i for i, n in enumerate(names)}
        iou["person"] = person_iou
        return Run.objects.create(dataset=dataset, vocabulary=vocab, profile="tiny", is_random_weights=True,
                                  status=Run.Status.SUCCEEDED, vocabulary_snapshot=snapshot, class_names=names,
                                  miou=sum(iou.values()) / len(iou), per_class_iou=iou, created_by=user, name=label)

    before = run(snapshot_before, 0.25, "street, support sets as built")
    after = run(snapshot_after, 0.40, "street, person curated")
    return person, before, after


def _drop_own_keys(prefix: str) -> None:
    """Delete this script's Redis keys (its queues and worker-monitor cache), named by its own per-pid prefix;
    no other session's keys are touched."""
    import redis

    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


def _synthetic_confusion(n: int) -> list[list[int]]:
    """A plausible n x (n + 1) matrix: mostly diagonal, confusions with neighbouring classes, some extra column."""
    import numpy as np

    rng = np.random.default_rng(0)
    m = rng.poisson(3, size=(n, n + 1)).astype(np.int64)
    for i in range(n):
        m[i, i] += rng.integers(200, 2000)
        for d in (1, 2, 7):
            m[i, (i + d) % n] += rng.integers(0, 400)
        m[i, n] += rng.integers(0, 300)
    return m.tolist()


def _png(array) -> bytes:  # noqa: ANN001
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def shoot(base: str, ids: dict, out: Path) -> list[str]:
    """Visit every page signed in and save a 1400x900 viewport screenshot of each (one full-page, whose legend is
    below the fold); returns the files written."""
    from playwright.sync_api import sync_playwright

    run, big = ids["run"], ids["big"]
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport=VIEWPORT).new_page()

        def snap(name: str, full_page: bool = False) -> None:
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / f"{name}.png"), full_page=full_page)
            written.append(name)

        page.goto(f"{base}/login/")
        snap("login")
        page.fill("#id_username", USER)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/runs/")
        snap("runs")
        page.goto(f"{base}/runs/{run}/")
        snap("run-detail")
        page.locator("#cm-h").scroll_into_view_if_needed()
        page.locator(f"svg[data-cm-svg] rect[data-gt='1'][data-pred='{ids['n']}']").hover()
        page.evaluate("() => document.querySelector('#cm-h').scrollIntoView()")
        snap("run-confusion")
        page.evaluate("() => document.querySelector('#gallery-h').scrollIntoView()")
        page.locator("details:has([data-class-toggle]) > summary").click()
        page.check("[data-ovl-toggle='gt']")
        snap("run-gallery")
        page.locator("[data-gallery] .stack").first.click()
        page.locator("dialog.viewer [data-viewer-layer='errors']").check()
        page.locator("dialog.viewer .viewer-port").focus()
        page.keyboard.press("+")
        snap("run-viewer")
        page.goto(f"{base}/runs/{big}/")
        page.evaluate("() => document.querySelector('#cm-h').scrollIntoView()")
        page.locator("canvas[data-cm-canvas]").focus()
        for key in ("ArrowDown", "ArrowDown", "ArrowRight", "ArrowRight", "ArrowRight"):
            page.keyboard.press(key)
        snap("run-150-classes")
        page.goto(f"{base}/runs/{run}/confusion/1/{ids['n']}/")
        snap("confusion-cell")
        page.goto(f"{base}/compare/?runs={ids['plain']},{run}")
        snap("compare")
        page.goto(f"{base}/runs/?clone={run}")
        page.evaluate("() => document.querySelector('#queue-h').scrollIntoView()")
        snap("run-clone")
        page.goto(f"{base}/runs/{run}/delete/")
        snap("run-delete")
        page.goto(f"{base}/vocabularies/")
        snap("vocabularies")
        page.goto(f"{base}/vocabularies/{ids['vocab']}/")
        snap("vocabulary")
        page.goto(f"{base}/classes/{ids['cls']}/")
        snap("class")
        page.goto(f"{base}/classes/{ids['curated']}/#review")
        for layer in ("attribution", "bg_mask", "instance"):  # every layer of the review cards at once
            page.check(f"#review [data-ovl-toggle='{layer}']")
        snap("class-review")
        page.goto(f"{base}/vocabularies/{ids['vocab']}/review/")
        snap("vocabulary-review")
        page.goto(f"{base}/compare/?runs={ids['before']},{ids['after']}")
        snap("compare-curated")
        page.goto(f"{base}/datasets/")
        snap("datasets")
        page.goto(f"{base}/datasets/{ids['dataset']}/")
        snap("dataset")
        page.goto(f"{base}/library/dataset/{ids['dataset']}/delete/")
        snap("dataset-delete-refused")
        page.goto(f"{base}/segment/")
        snap("segment")
        page.goto(f"{base}/segment/jobs/{ids['job']}/")
        snap("prediction-job")
        page.goto(f"{base}/segment/jobs/{ids['job']}/image/?image={ids['job_image']}")
        page.locator("[data-explain-url]").focus()
        for key in ("ArrowLeft",) * 5 + ("Enter",):
            page.keyboard.press(key)
        page.locator("[data-explain-out] .card").first.wait_for()
        snap("prediction-image", full_page=True)  # its legend is below the fold
        page.goto(f"{base}/workers/")
        for _ in range(15):  # the page reloads itself until the workers' (background) answer is in
            page.wait_for_timeout(1000)
            if page.locator("[data-answer-pending]").count() == 0:
                break
        snap("workers")
        browser.close()
    return written


# Screenshots this script does not take (it keeps them in the index): name, caption, how to make it again.
MADE_ELSEWHERE = [
    ("label-studio-preannotations", "Label Studio's own labelling page with ovdiff's brush pre-annotations",
     "Taken in Debian's chromium by the Label Studio end-to-end test (a real `label-studio==1.23.2`, the random-weight "
     "`tiny` profile): `OVDIFF_LS_SCREENSHOT=docs/screenshots/label-studio-preannotations.png .venv/bin/python -m "
     "pytest tests/integrations/test_label_studio_e2e.py -k round_trip`."),
]


def write_index(out: Path) -> None:
    lines = ["# Screenshots", "",
             "Every dashboard page at 1400x900 (a prediction job's image page at its full length), regenerated by "
             "`.venv/bin/python scripts/screenshots.py`.",
             "The data is synthetic and the runs come from the random-weight `tiny` profile (the pages say so): the "
             "numbers are not results of the method.", ""]
    for name, caption in PAGES:
        lines += [f"## {caption}", "", f"![{caption}](screenshots/{name}.png)", ""]
    for name, caption, made_by in MADE_ELSEWHERE:
        lines += [f"## {caption}", "", made_by, "", f"![{caption}](screenshots/{name}.png)", ""]
    (out.parent / "SCREENSHOTS.md").write_text("\n".join(lines))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    if args.seed:
        print(json.dumps(seed()))
        return 0
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ovdiff-screenshots-") as tmp:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ovdiff_web.settings", "DEBUG": "1",
               "OVDIFF_DATA_DIR": str(Path(tmp) / "data"), "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3",
               "OVDIFF_PROFILE": "tiny", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "OVDIFF_QUEUE_PREFIX": f"shots{os.getpid()}-", "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        seeded = subprocess.run([sys.executable, "scripts/screenshots.py", "--seed"], cwd=ROOT, env=env, check=True,
                                capture_output=True, text=True)
        ids = json.loads(seeded.stdout.strip().splitlines()[-1])
        port = _free_port()
        server = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(f"http://127.0.0.1:{port}/login/", server)
            args.out.mkdir(parents=True, exist_ok=True)
            written = shoot(f"http://127.0.0.1:{port}", ids, args.out)
        finally:
            server.terminate()
            server.wait(timeout=20)
            _drop_own_keys(env["OVDIFF_QUEUE_PREFIX"])
    write_index(args.out)
    print(f"wrote {len(written)} screenshots to {args.out} and {args.out.parent / 'SCREENSHOTS.md'}")
    return 0


def _wait(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the dashboard server exited")
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
