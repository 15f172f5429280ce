"""Class page: uploaded support images are shown like generated ones, the set in use is marked, a user can go
back to generated images or delete an uploaded set (owner only); prompts show the generator's template."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from ovdiff_web.core.models import SupportImage, SupportSet, Vocabulary, VocabularyClass

pytestmark = pytest.mark.django_db


def _png(value: int) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(buf, format="PNG")
    return SimpleUploadedFile(f"img{value}.png", buf.getvalue(), content_type="image/png")


@pytest.fixture
def cls(user: Any) -> VocabularyClass:
    vocab = Vocabulary.objects.create(name="v", owner=user)
    return VocabularyClass.objects.create(vocabulary=vocab, name="bus", prompt="red bus")


@pytest.fixture
def bob(django_user_model: Any, client: Any) -> Any:
    from django.test import Client

    other = Client()
    other.force_login(django_user_model.objects.create_user("bob", password="pw-bob-123"))
    return other


def _generated_set(cls: VocabularyClass, seed: int = 42) -> SupportSet:
    sset = SupportSet.objects.create(key=f"k{seed}", class_name=cls.name, prompt=f"A good photo of a {cls.text}",
                                     status="ready", n_images=1, profile="tiny")
    SupportImage.objects.create(support_set=sset, index=0, seed=seed, prompt=sset.prompt, image="x.png")
    return sset


def test_uploaded_images_are_shown_marked_and_reversible(ui: Any, cls: VocabularyClass, media_root: Any) -> None:
    used = _generated_set(cls)
    ui.post(f"/classes/{cls.pk}/", {"images": [_png(10), _png(200)]})
    cls.refresh_from_db()
    folder = cls.user_support_dir.rsplit("/", 1)[-1]
    html = ui.get(f"/classes/{cls.pk}/").content.decode()
    assert f'data-uploaded-set="{folder}"' in html and html.count('alt="uploaded support image') == 2
    assert cls.user_support_dir not in html.replace(f"/files/{cls.user_support_dir}", "")  # no bare internal path
    assert html.count("data-in-use") == 1 and "data-not-in-use" in html  # the uploaded set, not the generated one

    assert ui.post(f"/classes/{cls.pk}/support/", {"action": "use_generated"}).status_code == 302
    cls.refresh_from_db()
    assert cls.user_support_dir == ""
    html = ui.get(f"/classes/{cls.pk}/").content.decode()
    assert "not in use" in html[html.index(f'data-uploaded-set="{folder}"'):]
    generated = html[html.index(f"Support set <span class=\"mono\">{used.key}"):]
    assert generated.index("data-in-use") < generated.index("</h2>")

    assert ui.post(f"/classes/{cls.pk}/support/", {"action": "use_uploaded", "folder": folder}).status_code == 302
    cls.refresh_from_db()
    assert cls.user_support_dir.endswith(folder)
    ui.post(f"/classes/{cls.pk}/support/", {"action": "delete_uploaded", "folder": folder})
    cls.refresh_from_db()
    assert cls.user_support_dir == "" and not (media_root / "user_support" / str(cls.pk) / folder).exists()
    bad = ui.post(f"/classes/{cls.pk}/support/", {"action": "use_uploaded", "folder": "../../etc"}, follow=True)
    assert "no such uploaded support set" in bad.content.decode()
    assert ui.post(f"/classes/{cls.pk}/support/", {"action": "explode"}).status_code == 400


def test_another_user_cannot_change_the_support_choice(ui: Any, bob: Any, cls: VocabularyClass,
                                                       media_root: Any) -> None:
    ui.post(f"/classes/{cls.pk}/", {"images": [_png(10)]})
    cls.refresh_from_db()
    before = cls.user_support_dir
    response = bob.post(f"/classes/{cls.pk}/support/", {"action": "use_generated"})
    assert response.status_code in (403, 404)
    cls.refresh_from_db()
    assert cls.user_support_dir == before


def test_prompt_field_shows_the_template_the_generator_receives(ui: Any, cls: VocabularyClass) -> None:
    html = ui.get(f"/vocabularies/{cls.vocabulary_id}/").content.decode()
    row = html[html.index(f'id="prompt-{cls.pk}"') - 400:]
    assert '<span class="affix" aria-hidden="true">A good photo of a</span>' in row
    response = ui.post(f"/vocabularies/{cls.vocabulary_id}/classes/{cls.pk}/prompt/",
                       {"prompt": "double-decker bus", "version": cls.version}, follow=True)
    assert "the generator receives “A good photo of a double-decker bus”" in response.content.decode()
    page = ui.get(f"/classes/{cls.pk}/").content.decode()
    assert "<span data-generator-prompt>A good photo of a double-decker bus</span>" in page
