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
from ovdiff_web.runs.images import CLASS_WHERE, GalleryQuery


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


LEGACY_GSORT = {"iou": ("iou", "asc"), "-iou": ("iou", "desc"), "name": ("name", "asc")}


class GalleryFilterForm(forms.Form):
    """The run page's images list: ``?class=cat&class_in=gt&iou_min=0&iou_max=0.5&sort=iou&order=asc`` (IoU as a
    fraction, as the API takes it). The earlier ``?gsort=iou|-iou|name`` links still work."""

    class_in = forms.ChoiceField(label="present in", choices=list(CLASS_WHERE.items()), required=False,
                                 initial="gt")
    iou_min = forms.FloatField(label="IoU from", required=False, min_value=0, max_value=1,
                               widget=forms.NumberInput(attrs={"step": "0.01", "placeholder": "0"}),
                               help_text="a fraction: 0.5 = 50 %")
    iou_max = forms.FloatField(label="IoU to", required=False, min_value=0, max_value=1,
                               widget=forms.NumberInput(attrs={"step": "0.01", "placeholder": "1"}))
    sort = forms.ChoiceField(label="Sort by", choices=[("iou", "per-image IoU"), ("name", "image name")],
                             required=False, initial="iou")
    order = forms.ChoiceField(label="Order", choices=[("asc", "ascending (worst IoU / A first)"),
                                                      ("desc", "descending (best IoU / Z first)")],
                              required=False, initial="asc")

    def __init__(self, data: Any, class_names: list[str]) -> None:
        data = data.copy()
        if "sort" not in data and data.get("gsort") in LEGACY_GSORT:
            data["sort"], data["order"] = LEGACY_GSORT[data["gsort"]]
        super().__init__(data, auto_id="gallery-%s")
        self.fields["class"] = forms.ChoiceField(label="Class", required=False,
                                                 choices=[("", "any class")] + [(n, n) for n in class_names])
        self.order_fields(["class", "class_in", "iou_min", "iou_max", "sort", "order"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        low, high = data.get("iou_min"), data.get("iou_max")
        if low is not None and high is not None and low > high:
            self.add_error("iou_max", f"iou_max ({high}) is below iou_min ({low})")
        return data

    def query(self) -> GalleryQuery:
        """The valid choices as a ``GalleryQuery`` (the defaults where the form is invalid)."""
        if not self.is_valid():
            return GalleryQuery()
        d = self.cleaned_data
        return GalleryQuery(class_name=d.get("class") or "", where=d.get("class_in") or "gt",
                            iou_min=d.get("iou_min"), iou_max=d.get("iou_max"), sort=d.get("sort") or "iou",
                            order=d.get("order") or "asc")
