"""Dashboard forms of the vocabularies room: validation and field errors only; the work is done by its services."""
from __future__ import annotations

from typing import Any
from django import forms
from ovdiff_web.vocabularies.models import Vocabulary
from ovdiff_web.vocabularies.services import new_vocabulary_names, parse_names


MAX_CLASSES = 1000


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


class NewClassNamesField(ClassNamesField):
    """The names a vocabulary is created with: empty, blank or repeated names are refused with the reason."""

    def clean(self, value: Any) -> list[str]:  # type: ignore[override]
        text = forms.CharField.clean(self, value)
        try:
            names = new_vocabulary_names(text or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        if len(names) > MAX_CLASSES:
            raise forms.ValidationError(f"{len(names)} classes; the limit is {MAX_CLASSES}")
        return names


class VocabularyForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    class_names = NewClassNamesField(required=False, label="Class names",
                                     help_text="one per line or comma separated, each once; thing/stuff is labelled "
                                               "automatically")

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("a name is required")
        if Vocabulary.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError(f"a vocabulary named {name!r} already exists")
        return name


class AddClassesForm(forms.Form):
    class_names = ClassNamesField(label="Add classes", help_text="one per line or comma separated")


class PromptForm(forms.Form):
    prompt = forms.CharField(max_length=500, required=False,
                             help_text="the class text inside the generator's prompt template; blank uses the class name")
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class LabelForm(forms.Form):
    is_stuff = forms.TypedChoiceField(choices=[("0", "thing"), ("1", "stuff")], coerce=lambda v: v == "1")
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
