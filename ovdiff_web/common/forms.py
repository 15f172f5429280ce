"""Dashboard forms of the common room: validation and field errors only; the work is done by its services."""
from __future__ import annotations

from typing import Any
from django import forms
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.settings_catalog import parse_overrides


def add_service_error(form: forms.Form, exc: ServiceError, fields: dict[str, str] | None = None) -> int:
    """The one mapping of a service's refusal to a dashboard form: its message goes next to the form field it is
    about (``exc.field``, renamed by ``fields`` where the form calls it otherwise, e.g. ``{"files": "images"}``;
    ``settings.*`` goes to ``fields["settings"]``), or above the form when the form has no such field. Returns
    the status the page answers with (the error's: 400, 409, 413, 429, 503)."""
    fields = fields or {}
    name = exc.field or ""
    name = fields.get(name, fields.get("settings") if name.startswith("settings.") else name)
    if name in form.fields:  # a setting keeps its own name next to the form field that holds every setting
        text = str(exc)
        named = exc.field and exc.field != name and exc.field.startswith("settings.") and not text.startswith(exc.field)
        form.add_error(name, f"{exc.field}: {text}" if named else text)
    else:
        form.add_error(None, f"{exc.field}: {exc}" if exc.field and exc.field != "detail" else str(exc))
    return exc.status


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
