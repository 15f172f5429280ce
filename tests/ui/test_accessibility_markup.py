"""Markup that assistive technology relies on: ids unique per page, every aria-describedby pointing at an element
that exists (help texts and error lists), on pages with and without field errors."""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def _check(html: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', html)
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"duplicate ids: {dupes}"
    for refs in re.findall(r'aria-describedby="([^"]+)"', html):
        for ref in refs.split():
            assert ref in ids, f"aria-describedby points at missing #{ref}"


def test_pages_and_error_pages_have_unique_ids_and_working_descriptions(ui: Any, dataset: Any,
                                                                        finished_run: Any, user: Any) -> None:
    from ovdiff_web.core.models import Vocabulary, VocabularyClass

    vocab = Vocabulary.objects.create(name="v", owner=user)
    cls = VocabularyClass.objects.create(vocabulary=vocab, name="cat")
    for url in ("/runs/", f"/runs/{finished_run.pk}/", "/datasets/", f"/datasets/{dataset.pk}/", "/vocabularies/",
                f"/vocabularies/{vocab.pk}/", f"/classes/{cls.pk}/", "/segment/", "/compare/", "/workers/"):
        _check(ui.get(url).content.decode())
    upload = ui.post("/datasets/upload/", {"name": "", "format": "folder", "split": "val"})
    assert upload.status_code == 400
    html = upload.content.decode()
    _check(html)
    assert 'aria-describedby="upload_name_error"' in html and 'id="upload_name_error"' in html
    path = ui.post("/datasets/register/", {"name": "", "format": "folder", "split": "val", "path": "/etc"})
    _check(path.content.decode())
    vocab_error = ui.post("/vocabularies/", {"name": "", "class_names": "x" * 300})
    html = vocab_error.content.decode()
    _check(html)
    assert 'aria-describedby="id_class_names_helptext id_class_names_error"' in html
    _check(ui.post("/runs/", {"dataset": dataset.pk, "profile": "tiny", "overrides": "nope"}).content.decode())
