"""Dashboard forms of the datasets room: validation and field errors only; the work is done by its services."""
from __future__ import annotations

from typing import Any
from django import forms
from django.conf import settings
from ovdiff_web.accounts import access
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.vocabularies.models import Vocabulary
from ovdiff_web.common.paths import PathNotAllowed, confine


UPLOAD_FORMATS = [(Dataset.Format.FOLDER, "folder (images/, masks/, classes.txt)"),
                  (Dataset.Format.VOC, "voc (JPEGImages/, SegmentationClass/, ImageSets/)")]


class _DatasetFields(forms.Form):
    """Name, split and protocol shared by the upload and the server-path forms (checked like the API does)."""

    name = forms.CharField(max_length=200)
    split = forms.CharField(max_length=64, initial="val", help_text="e.g. val; a split file may restrict the images")
    protocol = forms.CharField(max_length=64, required=False,
                               help_text="evaluation protocol of the reader (blank = the format's default)")

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("a name is required")
        if Dataset.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError(f"a dataset named {name!r} already exists")
        return name

    def clean_split(self) -> str:
        value = self.cleaned_data["split"].strip()
        if not value.replace("_", "").replace("-", "").isalnum():
            raise forms.ValidationError("letters, digits, '-' and '_' only")
        return value


class DatasetUploadForm(_DatasetFields):
    """A zip of a dataset in folder or VOC layout; checked for zip slip, size and bombs before anything is kept."""

    field_order = ["name", "format", "archive", "split", "protocol"]
    format = forms.ChoiceField(choices=UPLOAD_FORMATS, initial=Dataset.Format.FOLDER)
    archive = forms.FileField(label="Zip archive", widget=forms.ClearableFileInput(attrs={"accept": ".zip"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "upload_%s")  # ids unique on the datasets page, which shows both forms
        super().__init__(*args, **kwargs)
        self.fields["archive"].help_text = f"at most {settings.OVDIFF_MAX_UPLOAD_MB} MB"


class DatasetPathForm(_DatasetFields):
    """A dataset already on the server, inside one of OVDIFF_DATASET_ROOTS."""

    field_order = ["name", "format", "path", "split", "protocol"]
    format = forms.ChoiceField(choices=Dataset.Format.choices, initial=Dataset.Format.FOLDER)
    path = forms.CharField(max_length=1000, label="Server path", widget=forms.TextInput(attrs={"class": "mono"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "path_%s")  # ids unique on the datasets page, which shows both forms
        super().__init__(*args, **kwargs)

    def clean_path(self) -> str:

        raw = self.cleaned_data["path"].strip()
        try:
            resolved = confine(raw, settings.OVDIFF_DATASET_ROOTS)
        except PathNotAllowed as exc:
            raise forms.ValidationError(str(exc))
        if not resolved.is_dir():
            raise forms.ValidationError(f"{raw}: not a directory on the server")
        return raw


class ImportClassesForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), empty_label="— choose a dataset —",
                                     label="Import the class list of")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = access.scope(Dataset.objects.exclude(class_names=[]).order_by("name"), user)


class ImportIntoVocabularyForm(forms.Form):
    """Copy a dataset's class list into an existing vocabulary, or into a new one named after the dataset."""

    vocabulary = forms.ModelChoiceField(queryset=Vocabulary.objects.all(), required=False,
                                        empty_label="— a new vocabulary named after the dataset —",
                                        label="Import the classes into")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["vocabulary"].queryset = access.scope(Vocabulary.objects.all(), user, write=True)
