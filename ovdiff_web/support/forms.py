"""Dashboard forms of the support room: validation and field errors only; the work is done by its services."""
from __future__ import annotations

from typing import Any
from django import forms
from django.conf import settings
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.common.forms import MultipleFileField, MultipleFilesField, MultipleImagesInput


class _Images(MultipleFileField):
    """Images, which may be left out when a zip is sent instead (the form says which is missing)."""

    def clean(self, data: Any, initial: Any = None) -> list[Any]:  # type: ignore[override]
        return super().clean(data, initial) if data else []


class SupportUploadForm(forms.Form):
    images = _Images(required=False, help_text="your own support images (PNG/JPEG) replace the generated "
                               "ones")
    masks = MultipleFilesField(required=False, label="Their masks (optional)",
                               widget=MultipleImagesInput(attrs={"multiple": True, "accept": "image/png"}),
                               help_text="one PNG per image with the same name (cat1.jpg → cat1.png): 0 = "
                                         "background, 255 (or any palette index but 0) = the object; images "
                                         "without one get masks proposed by MaskCut")
    archive = forms.FileField(required=False, label="Or a zip", widget=forms.ClearableFileInput(
        attrs={"accept": ".zip,application/zip"}), help_text="images/x.jpg + masks/x.png (or x.jpg + masks/x.png), "
                                                                "the layout the command line reads")
    add_to_set = forms.BooleanField(required=False, label="Add next to the current images",
                                    help_text="keep the images in use and the review done so far; these join them")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors and not data.get("images") and not data.get("archive"):
            self.add_error("images", "choose one or more images (or a zip)")
        return data


class RegenerateForm(forms.Form):
    """Rebuild one class's support set and prototype banks; a new seed draws a different support set."""

    seed = forms.IntegerField(required=False, min_value=0, max_value=2**32 - 1,
                              help_text="blank keeps the profile's seed (an unchanged set is a cache hit)")
    profile = forms.ChoiceField(choices=PROFILE_CHOICES)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["profile"].initial = settings.OVDIFF_PROFILE

    def overrides(self) -> dict[str, Any]:
        seed = self.cleaned_data.get("seed")
        return {} if seed is None else {"support": {"seed": seed}}
