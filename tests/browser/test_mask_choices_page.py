"""In Chromium: a run's page lists the support masks its vocabulary chose (axe finds no serious violation there),
and "Keep it on the class page" lands on the class page, which then says the mask was kept from a run."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.test_dashboard_flow import _login
from tests.ui.factories import make_demo_dataset, make_finished_run
from tests.ui.test_mask_choices import run_that_chose_for_alices_class

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_keep_a_runs_mask_choice_from_its_page(page: Any, live_server: Any, django_user_model: Any, settings: Any,
                                               tmp_path: Path) -> None:
    from ovdiff_web.core.models import SupportCuration

    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    media = Path(settings.MEDIA_ROOT)
    media.mkdir(parents=True, exist_ok=True)
    run = make_finished_run(make_demo_dataset(tmp_path / "demo", owner=user), user, media)
    table = run_that_chose_for_alices_class(run, user, media)

    pg, watch = page
    _login(pg, live_server.url)
    pg.goto(f"{live_server.url}/runs/{run.pk}/")
    row = pg.locator('[data-mask-choice="table:0"]')
    assert row.is_visible() and "everything outside proposed mask 0" in row.inner_text()
    thumb = row.locator("[data-chosen-thumb]")
    thumb.scroll_into_view_if_needed()  # loading="lazy"
    pg.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(),
                         timeout=10_000)  # served through /files/
    assert_accessible(pg, live_server.url, "run page with mask choices")
    row.locator("[data-keep-choice]").click()
    pg.wait_for_url(f"{live_server.url}/classes/{table.pk}/#review")
    card = pg.locator('[data-review-card][data-image="' + "f" * 32 + '"]')
    assert "everything outside proposed mask 0 (kept from a run)" in card.inner_text()
    assert SupportCuration.objects.get(vocab_class=table).masks == {"f" * 32: "candidate:1"}
    pg.goto(f"{live_server.url}/runs/{run.pk}/")
    assert pg.locator('[data-mask-choice="table:0"] [data-kept]').is_visible()
    watch.assert_clean()


def test_a_prediction_job_page_lists_its_mask_choices_without_a_metrics_stage(
        page: Any, live_server: Any, django_user_model: Any, settings: Any) -> None:
    from ovdiff_web.core.models import Run, RunStage

    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    media = Path(settings.MEDIA_ROOT)
    media.mkdir(parents=True, exist_ok=True)
    job = Run.objects.create(kind=Run.Kind.SEGMENTATION, profile="tiny", status=Run.Status.SUCCEEDED,
                             created_by=user)
    for order, (name, total) in enumerate((("support", 1), ("banks", 1), ("segment", 2), ("metrics", 0))):
        RunStage.objects.create(run=job, name=name, order=order, done=total, total=total,
                                status=RunStage.Status.DONE)
    table = run_that_chose_for_alices_class(job, user, media)

    pg, watch = page
    _login(pg, live_server.url)
    pg.goto(f"{live_server.url}/segment/jobs/{job.pk}/")
    assert pg.locator("[data-stage='segment']").is_visible() and pg.locator("[data-stage='metrics']").count() == 0
    row = pg.locator('[data-mask-choice="table:0"]')
    assert "everything outside proposed mask 0" in row.inner_text()
    assert row.locator("[data-class-link]").get_attribute("href") == f"/classes/{table.pk}/#review"
    assert_accessible(pg, live_server.url, "prediction job page with mask choices")
    watch.assert_clean()
