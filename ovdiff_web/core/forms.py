"""Dashboard forms: validation and field errors only; the work is done by ``ovdiff_web.core.services``."""
from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings

from ovdiff_web.core.models import PROFILE_CHOICES, Dataset, Vocabulary
from ovdiff_web.core.services.vocab import parse_names

MAX_CLASSES = 1000


class RunForm(forms.Form):
    """Queue an evaluation of a vocabulary (or the dataset's own classes) on a dataset."""

    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), empty_label="— choose a ready dataset —")
    vocabulary = forms.ModelChoiceField(queryset=Vocabulary.objects.all(), required=False,
                                        empty_label="the dataset's own class list",
                                        help_text="blank evaluates the dataset's classes with labeller labels")
    profile = forms.ChoiceField(choices=PROFILE_CHOICES)
    limit = forms.IntegerField(required=False, min_value=1, help_text="evaluate only the first N images")
    overrides = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
                                help_text='JSON settings overrides, e.g. {"segmenter": {"use_pamr": false}}')

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = Dataset.objects.filter(status=Dataset.Status.READY).order_by("name")
        self.fields["profile"].initial = settings.OVDIFF_PROFILE

    def clean_overrides(self) -> dict[str, Any]:
        raw = (self.cleaned_data.get("overrides") or "").strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
        if not isinstance(value, dict):
            raise forms.ValidationError("must be a JSON object of settings sections")
        return value


class ClassNamesField(forms.CharField):
    """Pasted class names, one per line or comma separated."""

    widget = forms.Textarea(attrs={"rows": 6, "placeholder": "cat\ndog\nsky\ngrass"})

    def clean(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().clean(value)
        names = parse_names(text or "")
        if self.required and not names:
            raise forms.ValidationError("paste at least one class name")
        if len(names) > MAX_CLASSES:
            raise forms.ValidationError(f"{len(names)} classes; the limit is {MAX_CLASSES}")
        too_long = [n for n in names if len(n) > 200]
        if too_long:
            raise forms.ValidationError(f"class name too long (200 characters at most): {too_long[0][:60]}…")
        return names


class VocabularyForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    class_names = ClassNamesField(required=False, label="Class names",
                                  help_text="one per line or comma separated; thing/stuff is labelled automatically")

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("a name is required")
        if Vocabulary.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError(f"a vocabulary named {name!r} already exists")
        return name


class AddClassesForm(forms.Form):
    class_names = ClassNamesField(label="Add classes", help_text="one per line or comma separated")


class ImportClassesForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), empty_label="— choose a dataset —",
                                     label="Import the class list of")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = Dataset.objects.exclude(class_names=[]).order_by("name")


class PromptForm(forms.Form):
    prompt = forms.CharField(max_length=500, required=False,
                             help_text="text sent to the generator; blank uses the class name")
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class LabelForm(forms.Form):
    is_stuff = forms.TypedChoiceField(choices=[("0", "thing"), ("1", "stuff")], coerce=lambda v: v == "1")
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


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


class SupportUploadForm(forms.Form):
    images = MultipleFileField(help_text="your own support images (PNG/JPEG) replace the generated ones")


class SegmentForm(forms.Form):
    image = forms.ImageField(help_text="PNG or JPEG")
    class_names = ClassNamesField(label="Classes", widget=forms.Textarea(attrs={"rows": 3, "placeholder": "cat, dog, grass"}))
    profile = forms.ChoiceField(choices=PROFILE_CHOICES)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["profile"].initial = settings.OVDIFF_PROFILE
