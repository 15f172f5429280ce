"""Datasets: the list, one dataset's per-file ingest errors and class list, a zip upload form and a
server-path form (confined to OVDIFF_DATASET_ROOTS). A dataset with no usable image is refused whole."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engine.palette import palette_hex
from ovdiff_web.accounts import access
from ovdiff_web.datasets.forms import DatasetPathForm, DatasetUploadForm, ImportIntoVocabularyForm
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.vocabularies.models import Vocabulary
from ovdiff_web.datasets import services as dataset_service
from ovdiff_web.vocabularies import pages as vocab_pages
from ovdiff_web.datasets.preview import preview_page
from ovdiff_web.common.forms import add_service_error
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.common.views import paginate, report_service_error, ui_login_required
from ovdiff_web.common.paths import hide_server_paths

ERRORS_PER_PAGE = 100


def _roots() -> list[str]:
    return [str(r) for r in settings.OVDIFF_DATASET_ROOTS]


def _list_context(request: HttpRequest, upload_form: DatasetUploadForm, path_form: DatasetPathForm) -> dict[str, Any]:
    return {"datasets": access.scope(Dataset.objects.select_related("created_by"), request.user),
            "upload_form": upload_form,
            "path_form": path_form, "roots": _roots(), "max_upload_mb": settings.OVDIFF_MAX_UPLOAD_MB}


@ui_login_required
@require_GET
def dataset_list(request: HttpRequest) -> HttpResponse:
    return render(request, "ovdiff/datasets/list.html", _list_context(request, DatasetUploadForm(), DatasetPathForm()))


def _refused(form: Any, field: str, errors: list[dict[str, str]], root: str = "") -> None:
    """A dataset with nothing usable was deleted (row and extracted files); its errors go next to ``field``."""
    for e in (_short(e, root) for e in errors[:5]):
        item = e.get("item", "")
        form.add_error(field, f"{item}: {e.get('error', '')}" if item else e.get("error", ""))
    if len(errors) > 5:
        form.add_error(field, f"… and {len(errors) - 5} more")


def _created(request: HttpRequest, dataset: Dataset) -> HttpResponse:
    if dataset.status == Dataset.Status.READY:
        text = f"Dataset “{dataset.name}” is ready: {dataset.image_count} images, {len(dataset.class_names)} classes."
        if dataset.ingest_errors:
            n = len(dataset.ingest_errors)
            text += f" {n} file{' was' if n == 1 else 's were'} left out (listed below)."
        messages.success(request, text)
    else:
        messages.info(request, f"Dataset “{dataset.name}” is large: a worker checks its files now.")
    return redirect("ui:dataset_detail", pk=dataset.pk)


def _create(request: HttpRequest, form: Any, field: str, **source: Any) -> HttpResponse | None:
    """``create_dataset`` (as the API); on any refusal the error is added to ``form`` and nothing is kept."""
    data = form.cleaned_data
    try:
        dataset = dataset_service.create_dataset(name=data["name"], fmt=data["format"], split=data["split"],
                                                 protocol=data["protocol"], user=request.user, **source)
    except IntegrityError:
        form.add_error("name", f"a dataset named {data['name']!r} already exists")
        return None
    except dataset_service.DatasetRefused as exc:  # each unusable file listed; staff see server paths
        errors = exc.errors if request.user.is_staff else dataset_service.relative_errors(exc.errors, exc.root)
        _refused(form, field, errors)
        form.add_error("format", f"no usable image/mask pair for the {data['format']!r} layout: check the format")
        return None
    except ServiceError as exc:  # the archive or server path goes next to this form's ``field``
        add_service_error(form, exc.named({"archive": field, "path": field}))
        return None
    return _created(request, dataset)


@ui_login_required
@require_http_methods(["GET", "POST"])
def dataset_upload(request: HttpRequest) -> HttpResponse:
    form = DatasetUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        archive = form.cleaned_data["archive"]
        response = _create(request, form, "archive", upload=archive)
        if response is not None:
            return response
    if request.method == "GET":
        return redirect("ui:datasets")
    return render(request, "ovdiff/datasets/list.html", _list_context(request, form, DatasetPathForm()), status=400)


@ui_login_required
@require_http_methods(["GET", "POST"])
def dataset_register(request: HttpRequest) -> HttpResponse:
    form = DatasetPathForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        path = form.cleaned_data["path"]
        response = _create(request, form, "path", path=path)
        if response is not None:
            return response
    if request.method == "GET":
        return redirect("ui:datasets")
    return render(request, "ovdiff/datasets/list.html", _list_context(request, DatasetUploadForm(), form), status=400)


@ui_login_required
@require_GET
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = access.get_readable(Dataset.objects.select_related("created_by"), request.user, pk=pk)
    errors = paginate(request, [_short(e, dataset.root) for e in dataset.ingest_errors], ERRORS_PER_PAGE)
    classes = [{"index": i, "name": n, "prompt": p if p != n else ""}
               for i, (n, p) in enumerate(zip(dataset.class_names, list(dataset.prompts) + [""] * len(dataset.class_names)))]
    runs = access.scope(dataset.runs.select_related("vocabulary"), request.user).order_by("-created_at")[:10]
    legend = [{"index": c["index"], "name": c["name"], "colour": colour, "in_dataset": True}
              for c, colour in zip(classes, palette_hex(len(classes)))]
    return render(request, "ovdiff/datasets/detail.html",
                  {"dataset": dataset, "errors": errors, "classes": classes, "runs": runs, "legend": legend,
                   "import_form": ImportIntoVocabularyForm(user=request.user),
                   "preview": preview_page(dataset, request.GET.get("ppage"))})


@ui_login_required
@require_POST
def dataset_import(request: HttpRequest, pk: int) -> HttpResponse:
    """Copy the dataset's class list into a vocabulary (existing, or a new one named after the dataset)."""
    dataset = access.get_readable(Dataset.objects.all(), request.user, pk=pk)
    form = ImportIntoVocabularyForm(request.POST, user=request.user)
    if not dataset.class_names or not form.is_valid():
        messages.error(request, "Nothing imported: choose a vocabulary (the dataset needs a class list).")
        return redirect("ui:dataset_detail", pk=dataset.pk)
    try:
        vocab, created, skipped = _import(request, dataset, form.cleaned_data["vocabulary"])
    except ServiceError as exc:
        report_service_error(request, exc, "Nothing imported: ", ".")
        return redirect("ui:dataset_detail", pk=dataset.pk)
    text = f"Imported {len(created)} classes of “{dataset.name}” into “{vocab.name}”."
    if skipped:
        text += f" Already present: {len(skipped)}."
    messages.success(request, text)
    return redirect("ui:vocabulary_detail", pk=vocab.pk)


def _import(request: HttpRequest, dataset: Dataset, vocab: Vocabulary | None) -> tuple[Vocabulary, list, list[str]]:
    """Import into ``vocab`` (or a new vocabulary named after the dataset), all or nothing."""
    with transaction.atomic():
        new = vocab is None
        if new:
            vocab = Vocabulary.objects.create(name=_free_vocabulary_name(dataset.name), owner=request.user,
                                              description=f"classes of dataset {dataset.name}")
        created, skipped = vocab_pages.import_dataset_classes(vocab, dataset, user=request.user, initial=new)
    return vocab, created, skipped


def _short(error: dict[str, str], root: str) -> dict[str, str]:
    """File paths relative to the dataset root: the same long prefix on every row hides what matters."""

    return {"item": hide_server_paths(str(error.get("item", "")), root),
            "error": hide_server_paths(str(error.get("error", "")), root)}


def _free_vocabulary_name(base: str) -> str:
    taken = set(Vocabulary.objects.filter(Q(name__iexact=base) | Q(name__istartswith=f"{base} (")).values_list(
        "name", flat=True))
    taken = {t.lower() for t in taken}
    if base.lower() not in taken:
        return base
    n = 2
    while f"{base} ({n})".lower() in taken:
        n += 1
    return f"{base} ({n})"
