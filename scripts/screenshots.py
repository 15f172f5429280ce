"""Regenerate docs/screenshots/: every dashboard page at 1400x900 in Debian's chromium, so a reader sees the
product without running it.  ``.venv/bin/python scripts/screenshots.py``

Isolated and offline: a temporary database and data dir, the dashboard served by ``manage.py runserver`` on a
free loopback port, no worker (runs are stored as the worker stores them: ``tests/ui/factories.py``), Redis only
for the Workers page. The data is synthetic and the runs come from the random-weight ``tiny`` profile; the pages
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
    ("datasets", "Datasets: upload a zip or register a server folder"),
    ("dataset", "A dataset: images with ground truth, classes, ingest errors"),
    ("dataset-delete-refused", "Deleting a dataset that runs read is refused, listing them"),
    ("segment", "Segment an image"),
    ("segment-result", "A segmentation: keyboard pixel picking with a marker, and its explanation"),
    ("workers", "Workers: queues, busy workers, running and failed tasks, the last answer's age"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed() -> dict[str, int | str]:
    """(In a subprocess with the temporary environment.) Users, a dataset, runs, a vocabulary, a class with an
    uploaded support set, a stored segmentation; returns the ids the pages need."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ovdiff_web.core.models import Dataset, Run, Vocabulary
    from ovdiff_web.core.services.dataset_preview import image_and_labels
    from ovdiff_web.core.services.lifecycle import set_run_label
    from ovdiff_web.core.services.support_images import save_user_support_images
    from ovdiff_web.core.services.vocab import add_classes
    from tests.ui.factories import make_demo_dataset, make_finished_run, make_stored_segmentation, make_vocabulary_run

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
    image, labels = image_and_labels(dataset, dataset.image_ids[0])
    files = [SimpleUploadedFile(f"own{i}.png", _png(image[:, ::(1 if i % 2 else -1)]), "image/png") for i in range(3)]
    save_user_support_images(bus, files)
    token = make_stored_segmentation(media, image, labels.clip(0, 3), ("background", "brick", "grass", "gravel"))
    return {"run": run.pk, "big": big.pk, "plain": plain.pk, "dataset": dataset.pk, "vocab": vocab.pk,
            "cls": bus.pk, "token": token, "n": len(run.class_names)}


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
    """Visit every page signed in and save a 1400x900 viewport screenshot of each; returns the files written."""
    from playwright.sync_api import sync_playwright

    run, big, token = ids["run"], ids["big"], ids["token"]
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport=VIEWPORT).new_page()

        def snap(name: str) -> None:
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / f"{name}.png"))
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
        page.goto(f"{base}/datasets/")
        snap("datasets")
        page.goto(f"{base}/datasets/{ids['dataset']}/")
        snap("dataset")
        page.goto(f"{base}/library/dataset/{ids['dataset']}/delete/")
        snap("dataset-delete-refused")
        page.goto(f"{base}/segment/")
        snap("segment")
        page.goto(f"{base}/segment/{token}/")
        page.locator("[data-explain-url]").focus()
        for key in ("ArrowLeft",) * 5 + ("Enter",):
            page.keyboard.press(key)
        page.locator("[data-explain-out] .card").first.wait_for()
        snap("segment-result")
        page.goto(f"{base}/workers/")
        for _ in range(15):  # the page reloads itself until the workers' (background) answer is in
            page.wait_for_timeout(1000)
            if page.locator("[data-answer-pending]").count() == 0:
                break
        snap("workers")
        browser.close()
    return written


def write_index(out: Path) -> None:
    lines = ["# Screenshots", "",
             "Every dashboard page at 1400x900, regenerated by `.venv/bin/python scripts/screenshots.py`.",
             "The data is synthetic and the runs come from the random-weight `tiny` profile (the pages say so): the "
             "numbers are not results of the method.", ""]
    for name, caption in PAGES:
        lines += [f"## {caption}", "", f"![{caption}](screenshots/{name}.png)", ""]
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
