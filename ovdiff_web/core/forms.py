"""Dashboard forms: validation and field errors only; the work is done by ``ovdiff_web.core.services``."""
from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from ovdiff_web.core import access
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


def clean_overrides_text(text: str | None) -> dict[str, Any]:
    """Settings overrides typed in a form (``group.field=value`` lines or JSON), as a dict; a field error else."""
    from ovdiff_web.core.services.settings_catalog import parse_overrides

    try:
        return parse_overrides(text or "")
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None


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
        from ovdiff_web.core.services.vocab import new_vocabulary_names

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


class ImportClassesForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), empty_label="— choose a dataset —",
                                     label="Import the class list of")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = access.scope(Dataset.objects.exclude(class_names=[]).order_by("name"), user)


class PromptForm(forms.Form):
    prompt = forms.CharField(max_length=500, required=False,
                             help_text="the class text inside the generator's prompt template; blank uses the class name")
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
    add_to_set = forms.BooleanField(required=False, label="Add next to the current images",
                                    help_text="keep the images in use and the review done so far; these join them")


class MultipleImagesInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFilesField(forms.FileField):
    """Several uploaded files from one input (validated as images by the prediction service, not here)."""

    widget = MultipleImagesInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, (list, tuple)) else [data] if data else []
        return [super(MultipleFilesField, self).clean(f, initial) for f in files]


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


# --- datasets ------------------------------------------------------------------------------------------------

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
        from ovdiff_web.core.services.paths import PathNotAllowed, confine

        raw = self.cleaned_data["path"].strip()
        try:
            resolved = confine(raw, settings.OVDIFF_DATASET_ROOTS)
        except PathNotAllowed as exc:
            raise forms.ValidationError(str(exc))
        if not resolved.is_dir():
            raise forms.ValidationError(f"{raw}: not a directory on the server")
        return raw


class ImportIntoVocabularyForm(forms.Form):
    """Copy a dataset's class list into an existing vocabulary, or into a new one named after the dataset."""

    vocabulary = forms.ModelChoiceField(queryset=Vocabulary.objects.all(), required=False,
                                        empty_label="— a new vocabulary named after the dataset —",
                                        label="Import the classes into")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["vocabulary"].queryset = access.scope(Vocabulary.objects.all(), user, write=True)


# --- class page: regenerate -----------------------------------------------------------------------------------

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
