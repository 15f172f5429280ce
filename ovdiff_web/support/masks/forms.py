"""The class page's "use ground truth from a dataset" form: a dataset the user may read, image ids, crop or not,
added to the class's images or as them."""
from __future__ import annotations

from typing import Any

from django import forms

from ovdiff_web.support.masks import ground_truth

CROP_CHOICES = (("crop", "crop to the region with a margin"), ("whole", "the whole image"))
MODE_CHOICES = (("add", "add them to the class's images (a new version)"),
                ("replace", "make them the class's own images"))


class GroundTruthForm(forms.Form):
    dataset = forms.ChoiceField(help_text="a ready dataset you may read whose classes include this class")
    image_ids = forms.CharField(label="Image ids", max_length=4000, widget=forms.Textarea(attrs={"rows": 2}),
                                help_text="ids as listed on the dataset's page, separated by commas or spaces "
                                          f"(at most {ground_truth.MAX_IMAGES})")
    crop = forms.ChoiceField(choices=CROP_CHOICES, initial="crop", widget=forms.RadioSelect,
                             help_text=f"crop: the region's bounding box plus {int(ground_truth.MARGIN * 100)} % of "
                                       f"its longer side (at least {ground_truth.MIN_MARGIN} px) on each side")

    mode = forms.ChoiceField(choices=MODE_CHOICES, initial="add", required=False, widget=forms.RadioSelect,
                             help_text="a profile without a generator (dinov2-small) needs the class's own images: "
                                       "replace, for a class that has none yet")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [(d.pk, d.name) for d in ground_truth.readable_datasets(user)[:200]]
