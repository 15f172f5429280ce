"""The run page's confusion matrix is readable: drawn at its natural size (not shrunk into a narrow column), every
header inside the drawing (the rotated "no dataset label" not clipped), scrolling sideways inside its card when
wider than it. A screenshot goes to /tmp/polish-cm.png for a look."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import sign_in
from tests.ui.factories import make_demo_dataset, make_vocabulary_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_confusion_matrix_is_wide_enough_and_its_headers_fit(page: Any, live_server: Any,
                                                                shared_paths: dict[str, Path],
                                                                django_user_model: Any) -> None:
    pg, _ = page
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    dataset = make_demo_dataset(shared_paths["tmp"] / "demo")
    type(dataset).objects.filter(pk=dataset.pk).update(created_by=user)
    run = make_vocabulary_run(dataset, user, shared_paths["media"])
    sign_in(pg, live_server.url)
    pg.set_viewport_size({"width": 1100, "height": 900})
    pg.goto(f"{live_server.url}/runs/{run.pk}/")
    svg = pg.locator("svg[data-cm-svg]")
    box = svg.bounding_box()
    natural = float(svg.get_attribute("width"))
    assert box["width"] >= natural - 1 and box["width"] >= 28 * (len(run.class_names) + 1), box
    for text in pg.locator("svg[data-cm-svg] text").all():
        t = text.bounding_box()
        assert t["x"] >= box["x"] - 1 and t["y"] >= box["y"] - 1, text.text_content()
        assert t["x"] + t["width"] <= box["x"] + box["width"] + 1, text.text_content()
        assert t["y"] + t["height"] <= box["y"] + box["height"] + 1, text.text_content()
    pg.locator("[data-cm]").screenshot(path=str(Path("/tmp/polish-cm.png")))
    # wider than its card: it scrolls sideways inside the card rather than shrinking
    assert pg.locator(".cm-wrap").evaluate("e => getComputedStyle(e).overflowX") in ("auto", "scroll")
    assert svg.evaluate("e => getComputedStyle(e).maxWidth") == "none"
