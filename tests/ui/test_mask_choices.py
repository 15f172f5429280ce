"""A run's page lists the support masks it chose with its whole vocabulary in view (masks.user_fg_rule=
"vocabulary", recorded by the worker on ``Run.support_mask_choices``): each image with the class page's mask and
the mask the run used. Access follows the run and the support set: a second user and an anonymous client see
neither the page nor the files; a reader of a public run sees no row of a support set restricted from them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client
from PIL import Image

from ovdiff_web.accounts import access
from ovdiff_web.accounts.models import Visibility
from ovdiff_web.support.models import SupportImage, SupportSet

KEY = "ab" + "c" * 30


def _support_set(media_root: Path, restricted: bool) -> SupportImage:
    rel = Path("support") / KEY[:2] / KEY
    folder = media_root / rel
    folder.mkdir(parents=True, exist_ok=True)  # the browser tests share one MEDIA_ROOT
    img = np.full((40, 60, 3), (200, 180, 150), np.uint8)
    img[10:30, 20:40] = (250, 250, 250)  # a cup on a table
    cup = np.zeros((40, 60), np.uint8)
    cup[10:30, 20:40] = 255
    Image.fromarray(img).save(folder / "0000_image.png")
    Image.fromarray(cup).save(folder / "0000_inst_0.png")
    Image.fromarray(cup).save(folder / "0000_fg.png")  # seen alone, the crop takes the cup
    sset = SupportSet.objects.create(key=KEY, class_name="table", prompt="table", status="ready", n_images=1,
                                     profile="tiny", source=SupportSet.Source.USER, restricted=restricted)
    return SupportImage.objects.create(support_set=sset, index=0, image=(rel / "0000_image.png").as_posix(),
                                       fg_mask=(rel / "0000_fg.png").as_posix(), content_id="f" * 32,
                                       instances=[(rel / "0000_inst_0.png").as_posix()])


@pytest.fixture
def chosen_run(finished_run: Any, media_root: Path) -> tuple[Any, SupportImage]:
    image = _support_set(media_root, restricted=True)
    image.support_set.runs.add(finished_run)
    finished_run.support_mask_choices = {"table": {"f" * 32: "candidate:1", "0" * 32: "candidate:2"},
                                         "cup": {"f" * 32: "instance:0"}}  # not a candidate: not listed
    finished_run.save(update_fields=["support_mask_choices"])
    return finished_run, image


def run_that_chose_for_alices_class(run: Any, user: Any, media_root: Path) -> Any:
    """``run`` as if its vocabulary had chosen candidate 1 for the support image of alice's class "table" (a
    class she may edit, in the run's snapshot); returns the class."""
    from ovdiff_web.core.models import Vocabulary
    from ovdiff_web.vocabularies import services as vocab

    image = _support_set(media_root, restricted=True)
    voc = Vocabulary.objects.create(name="kitchen", owner=user)
    vocab.add_classes(voc, ["table"], initial=True)
    table = voc.classes.get()
    image.support_set.classes.add(table)
    image.support_set.runs.add(run)
    run.vocabulary_snapshot = [{"name": "table", "class_id": table.pk}]
    run.support_mask_choices = {"table": {"f" * 32: "candidate:1"}}
    run.save(update_fields=["support_mask_choices", "vocabulary_snapshot"])
    return table


def _thumb(html: str) -> str:
    start = html.index("_outside_thumb.png")
    src_start = html.rindex('src="', 0, start) + len('src="')
    return html[src_start:html.index('"', src_start)]


def test_the_run_page_shows_the_mask_the_vocabulary_chose(ui: Client, chosen_run: tuple[Any, SupportImage],
                                                         media_root: Path) -> None:
    run, image = chosen_run
    html = ui.get(f"/runs/{run.pk}/").content.decode()
    assert "support masks chosen with the vocabulary in view (1)" in html
    assert 'data-mask-choice="table:0"' in html and "everything outside proposed mask 0" in html
    assert "data-class-link" not in html  # the run's snapshot names no class of "table" to link to
    url = _thumb(html)
    response = ui.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    thumb = np.asarray(Image.open(media_root / url.split("/files/", 1)[1]).convert("RGB")).astype(int)
    # the table (outside the cup) is tinted, the cup is dimmed: the complement of the proposed mask
    assert thumb[2, 2, 2] < thumb[2, 2, 0] and thumb[thumb.shape[0] // 2, thumb.shape[1] // 2].max() < 180
    assert f"/support-images/{image.pk}/fg_mask.png" in html  # beside it, the mask the class page shows


def test_a_run_without_choices_has_no_section(ui: Client, finished_run: Any) -> None:
    html = ui.get(f"/runs/{finished_run.pk}/").content.decode()
    assert "data-mask-choices" not in html
    assert 'data-stage="metrics"' in html  # an evaluation's metrics stage is shown (a prediction job has none)


def test_second_user_and_anonymous_see_neither_page_nor_thumbnail(ui: Client, chosen_run: tuple[Any, SupportImage],
                                                                  other_user: Any) -> None:
    run, _ = chosen_run
    url = _thumb(ui.get(f"/runs/{run.pk}/").content.decode())
    bob = Client()
    bob.force_login(other_user)
    assert bob.get(f"/runs/{run.pk}/").status_code == 404
    assert bob.get(url).status_code == 404
    anonymous = Client()
    assert anonymous.get(f"/runs/{run.pk}/").status_code == 302
    assert anonymous.get(url).status_code == 404


def test_a_public_run_shows_no_row_of_a_set_the_reader_may_not_read(ui: Client, finished_run: Any, user: Any,
                                                                     media_root: Path, other_user: Any) -> None:
    from ovdiff_web.core.models import Vocabulary
    from ovdiff_web.vocabularies import services as vocab

    image = _support_set(media_root, restricted=True)  # alice's upload to her private class, not linked to the run
    voc = Vocabulary.objects.create(name="private", owner=user)
    vocab.add_classes(voc, ["table"], initial=True)
    image.support_set.classes.add(voc.classes.get())
    table = voc.classes.get()
    finished_run.vocabulary_snapshot = [*finished_run.vocabulary_snapshot, {"name": "table", "class_id": table.pk}]
    finished_run.support_mask_choices = {"table": {"f" * 32: "candidate:1"}}
    finished_run.save(update_fields=["support_mask_choices", "vocabulary_snapshot"])
    access.share(finished_run, visibility=Visibility.PUBLIC)
    bob = Client()
    bob.force_login(other_user)
    html = bob.get(f"/runs/{finished_run.pk}/").content.decode()
    assert "Per-class IoU" in html and "data-mask-choices" not in html
    mine = ui.get(f"/runs/{finished_run.pk}/").content.decode()
    assert "data-mask-choice=" in mine  # alice reads the set through her class
    assert f'href="/classes/{table.pk}/#review" data-class-link' in mine  # where she overrides the choice


def test_the_api_detail_carries_the_choices(ui: Client, chosen_run: tuple[Any, SupportImage]) -> None:
    run, _ = chosen_run
    body = ui.get(f"/api/runs/{run.pk}/").json()
    assert body["support_mask_choices"]["table"]["f" * 32] == "candidate:1"


def test_a_prediction_job_page_shows_them_too(ui: Client, user: Any, media_root: Path, other_user: Any) -> None:
    from ovdiff_web.core.models import Run

    image = _support_set(media_root, restricted=True)
    job = Run.objects.create(kind=Run.Kind.SEGMENTATION, profile="tiny", status=Run.Status.SUCCEEDED,
                             created_by=user, support_mask_choices={"table": {"f" * 32: "candidate:2"}})
    image.support_set.runs.add(job)
    html = ui.get(f"/segment/jobs/{job.pk}/").content.decode()
    # candidate 2 is proposed mask 1, which this image does not have: listed, without a thumbnail
    assert 'data-mask-choice="table:0"' in html and "proposed mask 1" in html and "data-chosen-thumb" not in html
    bob = Client()
    bob.force_login(other_user)
    assert bob.get(f"/segment/jobs/{job.pk}/").status_code == 404
    assert Client().get(f"/segment/jobs/{job.pk}/").status_code == 302


def test_keep_the_runs_choice_on_the_class_page(ui: Client, finished_run: Any, user: Any, media_root: Path,
                                                other_user: Any) -> None:
    """One click makes the run's choice the class's own (a new support version); the class page then says
    where its mask came from and the run page says it is kept. A choice out of range is refused, nothing kept."""
    from ovdiff_web.core.models import SupportCuration

    table = run_that_chose_for_alices_class(finished_run, user, media_root)

    html = ui.get(f"/runs/{finished_run.pk}/").content.decode()
    assert "data-keep-choice" in html and 'name="choice" value="candidate:1"' in html
    bad = ui.post(f"/classes/{table.pk}/curate/", {"action": "mask", "image": "f" * 32, "choice": "candidate:5",
                                                   "version": table.version}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 400 and "no candidate 5" in bad.json()["message"]
    assert not SupportCuration.objects.exists()
    bob = Client()
    bob.force_login(other_user)
    assert bob.post(f"/classes/{table.pk}/curate/", {"action": "mask", "image": "f" * 32, "choice": "candidate:1",
                                                     "version": table.version}).status_code == 404
    assert not SupportCuration.objects.exists()

    kept = ui.post(f"/classes/{table.pk}/curate/", {"action": "mask", "image": "f" * 32, "choice": "candidate:1",
                                                    "version": table.version}, follow=True)
    assert kept.status_code == 200
    version = SupportCuration.objects.get()
    assert version.masks == {"f" * 32: "candidate:1"} and "everything outside proposed mask 0" in version.summary
    assert "everything outside proposed mask 0 (kept from a run)" in kept.content.decode()  # the class page
    html = ui.get(f"/runs/{finished_run.pk}/").content.decode()
    assert "data-kept" in html and "data-keep-choice" not in html
