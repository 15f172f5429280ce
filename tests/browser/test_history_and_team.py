"""In a real browser: a staff user adds a teammate on the Team page (the generated password signs them in), shares a
vocabulary with them, the teammate flips a class, and both history pages say who did it, with axe-core finding no
serious or critical issue on either page. No worker needed."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_teammate_share_flip_and_read_the_history(page: Any, live_server: Any, shared_paths: dict[str, Path],
                                                      django_user_model: Any, browser: Any) -> None:
    from ovdiff_web.core.models import Vocabulary, VocabularyClass

    pg, watch = page
    base = live_server.url
    alice = django_user_model.objects.create_user("alice", password="pw-alice-123", is_staff=True)
    vocab = Vocabulary.objects.create(name="street", owner=alice)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="bus")
    sign_in(pg, base)

    pg.click("nav >> text=Team")
    pg.fill("#id_username", "dora")
    pg.click("button:has-text('Add teammate')")
    password = pg.locator("[data-generated-password]").inner_text()
    assert pg.locator("[data-user='dora']").count() == 1
    screenshot(pg, "team-page")
    assert_accessible(pg, base, "team page")

    pg.goto(f"{base}/vocabularies/{vocab.pk}/")
    pg.click("[data-sharing] summary")
    pg.fill(f"#share-users-vocabulary-{vocab.pk}", "dora")
    pg.check("[data-sharing] input[name=visibility][value=shared]")
    pg.locator("[data-sharing] button[type=submit]").click()
    pg.wait_for_url(f"{base}/vocabularies/{vocab.pk}/#sharing-h")

    other = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        dora = other.new_page()
        dora.set_default_timeout(15_000)
        sign_in(dora, base, "dora", password)
        dora.goto(f"{base}/vocabularies/{vocab.pk}/")
        dora.click(f"#class-{cls.pk} [data-flip]")
        dora.wait_for_url(f"{base}/vocabularies/{vocab.pk}/#class-{cls.pk}")
        assert dora.locator(f"#class-{cls.pk} [data-source] .badge").inner_text() == "user dora"
        dora.click("[data-history-link]")
        dora.wait_for_url(f"{base}/vocabularies/{vocab.pk}/history/")
        flip = dora.locator("tr[data-history-row='flip']")
        assert flip.count() == 1 and "user dora" in flip.inner_text() and "label thing → stuff" in flip.inner_text()
        screenshot(dora, "vocabulary-history")
        assert_accessible(dora, base, "vocabulary history")
        flip.locator("[data-about]").click()
        dora.wait_for_url(f"{base}/classes/{cls.pk}/")
        dora.click("[data-history-link]")
        dora.wait_for_url(f"{base}/classes/{cls.pk}/history/")
        assert "user dora" in dora.locator("tr[data-history-row='flip']").inner_text()
        assert_accessible(dora, base, "class history")
    finally:
        other.close()
    watch.assert_clean()
