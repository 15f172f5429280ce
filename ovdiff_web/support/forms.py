"""Dashboard forms of the support room: validation and field errors only; the work is done by its services."""
from __future__ import annotations

from typing import Any
from django import forms
from django.conf import settings
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.common.forms import MultipleFileField


class SupportUploadForm(forms.Form):
    images = MultipleFileField(help_text="your own support images (PNG/JPEG) replace the generated ones")
    add_to_set = forms.BooleanField(required=False, label="Add next to the current images",
                                    help_text="keep the images in use and the review done so far; these join them")


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
