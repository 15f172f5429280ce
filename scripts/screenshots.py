"""Regenerate docs/screenshots/: every dashboard page at 1400x900 in Debian's chromium, so a reader sees the
product without running it.  ``.venv/bin/python scripts/screenshots.py``

Isolated and offline: a temporary database and data dir, the dashboard served by ``manage.py runserver`` on a
free loopback port, no worker (the data comes from ``scripts/screenshots_seed.py``: runs stored as the worker
stores them, ``tests/ui/factories.py``; the prediction job and the support sets computed in this process by the
tiny engine, as the tests do), no Label Studio server (its pages read rows only), Redis only for the Workers page
and the job's queue message (deleted with the script's other keys). The data is synthetic and the runs come from
the random-weight ``tiny`` profile; the pages say so, and so does docs/SCREENSHOTS.md.
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

from screenshots_seed import PASSWORD, STAFF, STAFF_PASSWORD, USER, drop_own_keys, seed

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1400, "height": 900}

# (file name, caption); the page for each comes from the seeded ids below
PAGES = [
    ("login", "Sign in"),
    ("runs", "Runs: queue an evaluation (settings picker), live progress, names and notes"),
    ("run-detail", "A run: live status and elapsed time, re-run / clone / delete, per-class IoU, results"),
    ("run-confusion", "Its confusion matrix with the \"no dataset label\" column, readout and highlight"),
    ("run-gallery", "Its gallery: prediction, ground truth and per-class overlays"),
    ("run-viewer", "The zoomable viewer with prediction / ground-truth / error layers"),
    ("run-images-filtered", "Its images filtered by class and IoU range, worst first"),
    ("run-mask-choices", "The support masks a run chose with its whole vocabulary in view, beside the class page's, "
                         "with a button that keeps one"),
    ("run-150-classes", "A 150-class run: the matrix as a canvas with keyboard navigation"),
    ("confusion-cell", "A confusion cell: its images with the confused pixels highlighted"),
    ("compare", "Compare runs"),
    ("compare-image", "One image side by side in two runs, with its ground truth and each run's IoU"),
    ("run-clone", "Clone a run and edit its settings"),
    ("run-delete", "Delete a run after a confirmation that says what goes"),
    ("vocabularies", "Vocabularies"),
    ("vocabulary", "A vocabulary: the prompt inside the generator's template, thing/stuff review"),
    ("class", "A class: uploaded and generated support sets, the one in use marked"),
    ("class-review", "A class's support-set review: attribution, proposed instance masks, chosen fg/bg, exclude / "
                     "choose-mask controls and the versions list"),
    ("class-support-masks", "Support images uploaded with their masks (\"given by user\") and one thumbnail per "
                            "proposed mask: one click takes it"),
    ("mask-editor", "The mask editor: a support image's foreground painted with brush and eraser"),
    ("vocabulary-review", "A vocabulary's review page: every class's support images, flagged ones first"),
    ("compare-curated", "Compare a run before and after a curation: support versions and per-class change"),
    ("vocabulary-history", "A vocabulary's history: thing/stuff flips and support versions, who and when, with "
                           "links to the runs that used them"),
    ("class-history", "A class's history: its flips and support-set versions"),
    ("datasets", "Datasets: upload a zip or register a server folder"),
    ("dataset", "A dataset: images with ground truth, classes, ingest errors"),
    ("dataset-delete-refused", "Deleting a dataset that runs read is refused, listing them"),
    ("segment", "Segment: prediction jobs, with the form that queues one (uploads or a zip, classes or a vocabulary)"),
    ("prediction-job", "A prediction job: progress, its gallery of segmented images and the downloads"),
    ("prediction-image", "An image of a job: overlay with opacity, class legend, and a clicked pixel explained"),
    ("workers", "Workers: queues, busy workers, running and failed tasks, the last answer's age"),
    ("label-studio", "Label Studio connections"),
    ("label-studio-connection", "A Label Studio connection: corrections received, evaluations of the corrected "
                                "images, compare before/after"),
    ("team", "Team (staff only): the accounts, and a teammate added with a generated password shown once"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        page.goto(f"{base}/runs/{ids['plain']}/?class=grass&class_in=gt&iou_min=0.2&iou_max=0.95&sort=iou"
                  "&order=asc#gallery-h")
        snap("run-images-filtered")
        page.goto(f"{base}/runs/{ids['plain']}/")
        page.locator("[data-mask-choices]").scroll_into_view_if_needed()
        page.evaluate("() => document.querySelector('#settings-h').scrollIntoView()")
        snap("run-mask-choices")
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
        page.goto(f"{base}/compare/?runs={ids['plain']},{run}&image={ids['image']}")
        page.evaluate("() => document.querySelector('#images-h').scrollIntoView()")
        snap("compare-image")
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
        page.goto(f"{base}/classes/{ids['masks']}/#review")
        proposed = page.locator("#review [data-review-card]").filter(has=page.locator("[data-take-proposal]")).first
        with page.expect_navigation():  # one click on a proposal's thumbnail takes that mask
            proposed.locator("[data-take-proposal]").last.click()
        page.evaluate("() => document.querySelector('#review-h').scrollIntoView()")
        snap("class-support-masks")
        page.goto(f"{base}/classes/{ids['curated']}/support-images/{ids['editor_image']}/edit/")
        page.locator("[data-mask-editor][data-ready]").wait_for()
        page.locator("[data-mask-canvas]").focus()  # its keys: B brush, E eraser
        box = page.locator("[data-mask-canvas]").bounding_box()
        for keys, strokes in (("b", ((0.1, 0.15, 0.9, 0.2), (0.15, 0.85, 0.5, 0.6))), ("e]]]", ((0.6, 0.2, 0.6, 0.7),))):
            for key in keys:  # a tool, then a larger brush
                page.keyboard.press(key)
            for x0, y0, x1, y1 in strokes:
                page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
                page.mouse.down()
                page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=12)
                page.mouse.up()
        snap("mask-editor")
        page.goto(f"{base}/vocabularies/{ids['vocab']}/review/")
        snap("vocabulary-review")
        page.goto(f"{base}/compare/?runs={ids['before']},{ids['after']}")
        snap("compare-curated")
        page.goto(f"{base}/vocabularies/{ids['vocab']}/history/")
        snap("vocabulary-history")
        page.goto(f"{base}/classes/{ids['curated']}/history/")
        snap("class-history")
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
        page.goto(f"{base}/label-studio/")
        snap("label-studio")
        page.goto(f"{base}/label-studio/{ids['ls']}/")
        snap("label-studio-connection")
        page.context.clear_cookies()  # the Team page is staff-only: sign in again as the staff member
        page.goto(f"{base}/login/")
        page.fill("#id_username", STAFF)
        page.fill("#id_password", STAFF_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/runs/")
        page.goto(f"{base}/team/")
        page.fill("#id_username", "dave")
        with page.expect_navigation():
            page.click("form.stack button[type=submit]")
        page.locator("[data-created]").wait_for()
        snap("team")
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
            drop_own_keys(env["OVDIFF_QUEUE_PREFIX"])
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
