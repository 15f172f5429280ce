"""Run pages tell what happened: the "no dataset label" column has a header and working cells, legends list every
vocabulary class, the queue form warns about classes the dataset lacks, units and elapsed time are shown."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ovdiff_web.core.models import Run
from tests.ui.factories import EXTRA_CLASSES, make_vocabulary_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def vocab_run(dataset: Any, user: Any, media_root: Any) -> Run:
    return make_vocabulary_run(dataset, user, media_root)


def test_extra_column_has_a_header_and_its_cells_open(ui: Any, vocab_run: Run) -> None:
    n = len(vocab_run.class_names)
    html = ui.get(f"/runs/{vocab_run.pk}/").content.decode()
    assert 'data-col="%d"' % n in html and ">no dataset label</text>" in html
    assert f"/runs/{vocab_run.pk}/confusion/1/{n}/" in html
    page = ui.get(f"/runs/{vocab_run.pk}/confusion/1/{n}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "data-image-id" in body and all(name in body for name in EXTRA_CLASSES)
    assert ui.get(f"/runs/{vocab_run.pk}/confusion/1/{n + 1}/").status_code == 404


def test_cell_overlay_highlights_the_confused_pixels(ui: Any, vocab_run: Run) -> None:
    n = len(vocab_run.class_names)
    result = vocab_run.image_results.order_by("image_id").first()
    png = ui.get(f"/runs/{vocab_run.pk}/images/{result.pk}/cell.png?gt=1&pred={n}")
    assert png.status_code == 200
    alpha = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGBA"))[..., 3]
    assert alpha.any() and not alpha[:, : alpha.shape[1] // 2].any()  # only the right quarter was mispredicted
    assert ui.get(f"/runs/{vocab_run.pk}/images/{result.pk}/cell.png?gt=x").status_code == 404


def test_legend_and_overlay_show_classes_missing_from_the_dataset(ui: Any, vocab_run: Run) -> None:
    from engine.palette import class_palette

    html = ui.get(f"/runs/{vocab_run.pk}/").content.decode()
    for name in EXTRA_CLASSES:
        assert name in html
    assert "(not in dataset)" in html
    result = vocab_run.image_results.order_by("image_id").first()
    rgba = np.asarray(Image.open(io.BytesIO(ui.get(f"/runs/{vocab_run.pk}/images/{result.pk}/pred.png").content)))
    right = rgba[:, -2]
    assert (right[:, 3] == 255).all()  # extra classes are drawn, not transparent
    assert tuple(right[0, :3]) == tuple(class_palette()[len(vocab_run.class_names)])


def test_palette_has_no_black_or_invisible_class() -> None:
    from engine.palette import class_palette

    pal = class_palette(256).astype(float)
    luminance = pal @ np.array([0.299, 0.587, 0.114])
    assert luminance.min() > 25 and luminance.max() < 235
    assert len({tuple(c) for c in pal[:150]}) == 150


def test_large_matrix_is_a_canvas_with_data(ui: Any, dataset: Any, user: Any, media_root: Any) -> None:
    run = make_vocabulary_run(dataset, user, media_root, n_classes=150)
    html = ui.get(f"/runs/{run.pk}/").content.decode()
    assert "data-cm-canvas" in html and f'id="cm-data-{run.pk}"' in html and "data-cm-scale" in html
    assert html.count("<a href=\"/runs/%d/confusion/" % run.pk) == 0  # not 22,000 links


def test_queue_warns_about_classes_the_dataset_lacks(ui: Any, dataset: Any, user: Any) -> None:
    from ovdiff_web.core.models import Vocabulary
    from ovdiff_web.vocabularies.services import add_classes

    vocab = Vocabulary.objects.create(name="mixed", owner=user)
    add_classes(vocab, ["grass", "zebra", "lava"])
    response = ui.post("/runs/", {"dataset": dataset.pk, "vocabulary": vocab.pk, "profile": "tiny"}, follow=True)
    html = response.content.decode()
    assert "has no label for 2 vocabulary class(es): zebra, lava" in html


def test_header_badge_is_live_and_shows_elapsed_time(ui: Any, vocab_run: Run) -> None:
    from datetime import timedelta

    from django.utils import timezone

    Run.objects.filter(pk=vocab_run.pk).update(status=Run.Status.RUNNING, finished_at=None,
                                              started_at=timezone.now() - timedelta(seconds=75))
    html = ui.get(f"/runs/{vocab_run.pk}/").content.decode()
    assert f'data-run-status-live="{vocab_run.pk}"' in html and "elapsed 1m 15s" in html
    data = ui.get(f"/runs/{vocab_run.pk}/progress.json").json()
    assert data["status"] == "running" and data["elapsed_seconds"] >= 75


def test_iou_figures_show_their_unit(ui: Any, vocab_run: Run) -> None:
    html = ui.get(f"/runs/{vocab_run.pk}/").content.decode()
    assert "mIoU (%)" in html and "IoU (%)" in html
    assert "mIoU (%)" in ui.get("/runs/").content.decode()


def test_override_help_example_is_accepted_and_wrong_names_get_the_closest(ui: Any, dataset: Any) -> None:
    from ovdiff_web.runs.forms import RunForm
    from ovdiff_web.common.settings_catalog import EXAMPLE

    help_text = RunForm().fields["overrides"].help_text
    assert EXAMPLE in help_text
    response = ui.post("/runs/", {"dataset": dataset.pk, "profile": "tiny", "overrides": EXAMPLE})
    assert response.status_code == 302
    run = Run.objects.get()
    assert run.settings["segment"]["pamr"] is True
    json_form = ui.post("/runs/", {"dataset": dataset.pk, "profile": "tiny",
                                   "overrides": '{"segment": {"window_sizes": [336]}}'})
    assert json_form.status_code == 302
    wrong = ui.post("/runs/", {"dataset": dataset.pk, "profile": "tiny",
                               "overrides": '{"segmenter": {"use_pamr": false}}'})
    assert wrong.status_code == 400 and "did you mean &#x27;segment&#x27;?" in wrong.content.decode()
    wrong = ui.post("/runs/", {"dataset": dataset.pk, "profile": "tiny", "overrides": "segment.use_pamr=false"})
    assert "did you mean &#x27;segment.pamr&#x27;?" in wrong.content.decode()
    typed = ui.post("/runs/", {"dataset": dataset.pk, "profile": "tiny", "overrides": "segment.pamr=maybe"})
    assert "segment.pamr must be true or false (paper default: false)" in typed.content.decode()
    assert Run.objects.count() == 2


def test_run_form_offers_known_settings_with_types_and_paper_defaults(ui: Any) -> None:
    html = ui.get("/runs/").content.decode()
    assert '<datalist id="known-settings">' in html
    assert '<option value="segment.pamr" data-default="false">bool · paper default false</option>' in html
    assert '<option value="support.n_images" data-default="64">int · paper default 64</option>' in html


def test_failure_messages_show_no_server_paths(ui: Any, vocab_run: Run, media_root: Any, settings: Any) -> None:
    Run.objects.filter(pk=vocab_run.pk).update(
        status=Run.Status.FAILED, error=f"FileNotFoundError: {media_root}/runs/{vocab_run.pk}/pred/x.png missing",
        traceback=f'File "{settings.OVDIFF_DATA_DIR}/store/a.npz"')
    for url in (f"/runs/{vocab_run.pk}/", "/runs/"):
        html = ui.get(url).content.decode()
        assert str(media_root) not in html and str(settings.OVDIFF_DATA_DIR) not in html
    assert f"runs/{vocab_run.pk}/pred/x.png missing" in ui.get(f"/runs/{vocab_run.pk}/").content.decode()


def test_new_vocabulary_is_version_1_and_affects_ignores_cancelled_runs_without_results(
        ui: Any, dataset: Any, user: Any) -> None:
    from ovdiff_web.core.models import ImageResult, Vocabulary
    from ovdiff_web.runs.services import create_run

    ui.post("/vocabularies/", {"name": "fresh", "class_names": "cat\ngrass"})
    vocab = Vocabulary.objects.get(name="fresh")
    assert vocab.version == 1 and "version 1" in ui.get(f"/vocabularies/{vocab.pk}/").content.decode()
    cancelled = create_run(user=user, dataset=dataset, vocabulary=vocab, profile="tiny")
    Run.objects.filter(pk=cancelled.pk).update(status=Run.Status.CANCELLED)
    kept = create_run(user=user, dataset=dataset, vocabulary=vocab, profile="tiny")
    Run.objects.filter(pk=kept.pk).update(status=Run.Status.CANCELLED)
    ImageResult.objects.create(run=kept, image_id="x", iou=0.1)
    grass = vocab.classes.get(name="grass")
    ui.post(f"/vocabularies/{vocab.pk}/classes/{grass.pk}/label/", {"is_stuff": "0" if grass.is_stuff else "1",
                                                                    "version": grass.version})
    row = ui.get(f"/vocabularies/{vocab.pk}/").content.decode()
    row = row[row.index('data-class="grass"'):]
    row = row[:row.index("</tr>")]
    assert f"/runs/{kept.pk}/" in row and f"/runs/{cancelled.pk}/" not in row
