"""Dashboard forms of the runs room: validation and field errors only; the work is done by its services."""
from __future__ import annotations

from typing import Any
from django import forms
from django.conf import settings
from ovdiff_web.accounts import access
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.vocabularies.models import Vocabulary
from ovdiff_web.common.forms import clean_overrides_text


class RunForm(forms.Form):
    """Queue an evaluation of a vocabulary (or the dataset's own classes) on a dataset."""

    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), empty_label="— choose a ready dataset —")
    vocabulary = forms.ModelChoiceField(queryset=Vocabulary.objects.all(), required=False,
                                        empty_label="the dataset's own class list",
                                        help_text="blank evaluates the dataset's classes with labeller labels")
    profile = forms.ChoiceField(choices=PROFILE_CHOICES)
    limit = forms.IntegerField(required=False, min_value=1, max_value=1_000_000,
                               help_text="evaluate only the first N images")
    name = forms.CharField(required=False, max_length=200, help_text="optional: how your team calls this run")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    overrides = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
                                label="Settings overrides",
                                help_text="one setting per line as group.field=value, e.g. segment.pamr=true "
                                          "(a JSON object of groups works too); pick names from the list below")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ready = Dataset.objects.filter(status=Dataset.Status.READY).order_by("name")
        self.fields["dataset"].queryset = access.scope(ready, user)
        self.fields["vocabulary"].queryset = access.scope(Vocabulary.objects.all(), user)
        self.fields["profile"].initial = settings.OVDIFF_PROFILE

    def clean_overrides(self) -> dict[str, Any]:
        return clean_overrides_text(self.cleaned_data.get("overrides"))
