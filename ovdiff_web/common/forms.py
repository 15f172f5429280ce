"""Dashboard forms of the common room: validation and field errors only; the work is done by its services."""
from __future__ import annotations

from typing import Any
from django import forms
from ovdiff_web.common.settings_catalog import parse_overrides


def clean_overrides_text(text: str | None) -> dict[str, Any]:
    """Settings overrides typed in a form (``group.field=value`` lines or JSON), as a dict; a field error else."""

    try:
        return parse_overrides(text or "")
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern): each is validated like a FileField."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleImageInput(attrs={"multiple": True, "accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:  # type: ignore[override]
        single = super().clean
        if isinstance(data, (list, tuple)):
            if not data:
                raise forms.ValidationError("choose at least one image")
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class MultipleImagesInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFilesField(forms.FileField):
    """Several uploaded files from one input (validated as images by the prediction service, not here)."""

    widget = MultipleImagesInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, (list, tuple)) else [data] if data else []
        return [super(MultipleFilesField, self).clean(f, initial) for f in files]
