"""Dashboard forms of the predictions room: validation and field errors only; the work is done by its services."""
from __future__ import annotations

from typing import Any
from django import forms
from django.conf import settings
from ovdiff_web.accounts import access
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.vocabularies.models import Vocabulary
from ovdiff_web.common.forms import MultipleFilesField, clean_overrides_text


class PredictionForm(forms.Form):
    """Queue a prediction job: images (or a zip), a stored vocabulary or typed classes, a profile."""

    images = MultipleFilesField(required=False, help_text="one or many PNG/JPEG images")
    archive = forms.FileField(required=False, label="or a zip of images")
    vocabulary = forms.ModelChoiceField(queryset=Vocabulary.objects.none(), required=False,
                                        empty_label="— type classes below —")
    classes = forms.CharField(required=False, label="Classes", widget=forms.Textarea(
        attrs={"rows": 2, "placeholder": "cat, dog, sky, grass"}), help_text="one per line or comma separated")
    stuff = forms.CharField(required=False, label="Stuff classes", help_text="which typed classes are stuff "
                            "(sky, grass...); blank lets the labeller decide")
    profile = forms.ChoiceField(choices=PROFILE_CHOICES)
    overrides = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "mono"}),
                                label="Settings overrides",
                                help_text="optional: one setting per line as group.field=value, e.g. "
                                          "support.n_images=4")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["vocabulary"].queryset = access.scope(Vocabulary.objects.all(), user).order_by("name")
        self.fields["profile"].initial = settings.OVDIFF_PROFILE

    def clean_overrides(self) -> dict[str, Any]:
        return clean_overrides_text(self.cleaned_data.get("overrides"))
